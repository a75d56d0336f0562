// Terminal escape sequences removed from text shown plainly (summaries, samples, downloads).
// CSI (colours, cursor movement, erase), OSC (titles, hyperlinks; ended by BEL or ST), other
// two-character escapes, and stray control characters but tab and newline.
// eslint-disable-next-line no-control-regex
const ESCAPES = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b[@-Z\\-_]|\u009b[0-?]*[ -/]*[@-~]|[\u0000-\u0008\u000b-\u001f\u007f]/g;

export function stripAnsi(text: string): string {
  return text.replace(ESCAPES, "");
}
