// How to reach a target: one card per connection method (SSH or WinRM), one of them primary.
// Errors are keyed `connection_methods.<index>.<field>` and shown at their field.
import {
  Autocomplete,
  Box,
  Button,
  Card,
  CardContent,
  Checkbox,
  FormControlLabel,
  Grid,
  IconButton,
  MenuItem,
  Radio,
  Stack,
  TextField,
 
  Typography,
} from "@mui/material";
import Add from "@mui/icons-material/Add";
import Delete from "@mui/icons-material/Delete";
import { useQuery } from "@tanstack/react-query";
import { useId } from "react";
import { api, unwrap } from "../../api/client";
import { useCan } from "../../components/Gated";
import { DEFAULT_PORTS, newMethod, type MethodDraft } from "./methods";

const COMPATIBLE: Record<string, string[]> = { ssh: ["password", "ssh_key"], winrm: ["winrm", "password"] };

function useCredentialNames(enabled: boolean) {
  return useQuery({
    queryKey: ["credentials", "names"],
    queryFn: () => unwrap(api.GET("/api/v1/credentials/", { params: { query: { page_size: 500 } } })),
    enabled,
    staleTime: 60_000,
  });
}

export function MethodsEditor({
  methods,
  onChange,
  errors,
  disabled,
  osFamily,
}: {
  methods: MethodDraft[];
  onChange: (methods: MethodDraft[]) => void;
  errors: Record<string, string[]>;
  disabled?: boolean;
  osFamily: string;
}) {
  const headingId = useId();
  const isAdmin = useCan("credentials");
  const credentials = useCredentialNames(isAdmin);
  const update = (rowId: number, change: Partial<MethodDraft>) =>
    onChange(
      methods.map((method) => {
        if (method.rowId === rowId) return { ...method, ...change };
        // one primary: choosing another demotes the rest
        if (change.is_primary) return { ...method, is_primary: false };
        return method;
      }),
    );
  const remove = (rowId: number) => {
    const rest = methods.filter((method) => method.rowId !== rowId);
    if (rest.length > 0 && !rest.some((method) => method.is_primary)) rest[0] = { ...rest[0], is_primary: true };
    onChange(rest);
  };
  const add = () =>
    onChange([...methods, newMethod(osFamily === "windows" ? "winrm" : "ssh", methods.length === 0)]);

  return (
    <Box component="section" aria-labelledby={headingId}>
      <Typography id={headingId} variant="h6" component="h2" sx={{ mb: 1 }}>
        Connection methods
      </Typography>
      {methods.length === 0 ? (
        <Typography variant="body2" color="text.secondary" sx={{ mb: 1 }}>
          No connection method: jobs and health checks cannot reach this target until you add one
          (SSH for Linux, WinRM for Windows).
        </Typography>
      ) : null}
      <Stack spacing={2}>
        {methods.map((method, index) => {
          const at = (field: string) => errors[`connection_methods.${index}.${field}`];
          const text = (field: string, fallback = " ") => at(field)?.join(" ") || fallback;
          const title = `Method ${index + 1}`;
          const options = (credentials.data?.results ?? []).filter((c) =>
            COMPATIBLE[method.protocol].includes(c.kind),
          );
          const general = [
            ...(at("non_field_errors") ?? []),
            ...(at("is_primary") ?? []),
            ...(at("winrm_validate_cert") ?? []),
          ];
          return (
            <Card key={method.rowId} variant="outlined" component="fieldset" sx={{ m: 0, p: 0 }}>
              <CardContent>
                <Stack direction="row" alignItems="center" spacing={1} sx={{ mb: 1 }}>
                  <Typography component="legend" variant="subtitle1" sx={{ flexGrow: 1 }}>
                    {title}
                    {method.id ? "" : " (new)"}
                  </Typography>
                  <FormControlLabel
                    control={
                      <Radio
                        checked={method.is_primary}
                        onChange={() => update(method.rowId, { is_primary: true })}
                        disabled={disabled}
                      />
                    }
                    label="Primary"
                  />
                      <IconButton aria-label={`Remove ${title.toLowerCase()}`} onClick={() => remove(method.rowId)} disabled={disabled}>
                        <Delete />
                      </IconButton>
                </Stack>
                {general.length > 0 ? (
                  <Typography role="alert" color="error" variant="body2" sx={{ mb: 1 }}>
                    {general.join(" ")}
                  </Typography>
                ) : null}
                <Grid container spacing={2}>
                  <Grid size={{ xs: 12, sm: 3 }}>
                    <TextField
                      select
                      fullWidth
                      label={`${title} protocol`}
                      value={method.protocol}
                      onChange={(event) => update(method.rowId, { protocol: event.target.value as MethodDraft["protocol"] })}
                      error={Boolean(at("protocol"))}
                      helperText={text("protocol")}
                      disabled={disabled}
                    >
                      <MenuItem value="ssh">SSH</MenuItem>
                      <MenuItem value="winrm">WinRM</MenuItem>
                    </TextField>
                  </Grid>
                  <Grid size={{ xs: 12, sm: 6 }}>
                    <TextField
                      fullWidth
                      required
                      label={`${title} address (host name or IP)`}
                      value={method.host}
                      onChange={(event) => update(method.rowId, { host: event.target.value })}
                      error={Boolean(at("host"))}
                      helperText={text("host")}
                      disabled={disabled}
                      slotProps={{ htmlInput: { maxLength: 253, spellCheck: false } }}
                    />
                  </Grid>
                  <Grid size={{ xs: 12, sm: 3 }}>
                    <TextField
                      fullWidth
                      label={`${title} port`}
                      value={method.port}
                      placeholder={String(DEFAULT_PORTS[method.protocol](method))}
                      onChange={(event) => update(method.rowId, { port: event.target.value })}
                      error={Boolean(at("port"))}
                      helperText={text("port", `Empty: ${DEFAULT_PORTS[method.protocol](method)}`)}
                      disabled={disabled}
                      slotProps={{ htmlInput: { inputMode: "numeric" } }}
                    />
                  </Grid>
                  <Grid size={{ xs: 12, sm: 4 }}>
                    <TextField
                      fullWidth
                      label={`${title} username`}
                      value={method.username}
                      onChange={(event) => update(method.rowId, { username: event.target.value })}
                      error={Boolean(at("username"))}
                      helperText={text("username", "Empty: the credential's username")}
                      disabled={disabled}
                      slotProps={{ htmlInput: { maxLength: 128, spellCheck: false } }}
                    />
                  </Grid>
                  <Grid size={{ xs: 12, sm: 5 }}>
                    {isAdmin ? (
                      <Autocomplete
                        freeSolo
                        options={options.map((c) => c.name)}
                        value={method.credential}
                        inputValue={method.credential}
                        onInputChange={(_, value) => update(method.rowId, { credential: value })}
                        disabled={disabled}
                        renderInput={(params) => (
                          <TextField
                            {...params}
                            label={`${title} credential`}
                            error={Boolean(at("credential"))}
                            helperText={text(
                              "credential",
                              `A ${method.protocol === "ssh" ? "password or SSH key" : "WinRM or password"} credential; empty: none`,
                            )}
                          />
                        )}
                      />
                    ) : (
                      <TextField
                        fullWidth
                        label={`${title} credential (name or id)`}
                        value={method.credential}
                        onChange={(event) => update(method.rowId, { credential: event.target.value })}
                        error={Boolean(at("credential"))}
                        helperText={text("credential", "Only credentials an admin lets your role attach; empty: none")}
                        disabled={disabled}
                        slotProps={{ htmlInput: { maxLength: 64, spellCheck: false } }}
                      />
                    )}
                  </Grid>
                  <Grid size={{ xs: 12, sm: 3 }}>
                    <TextField
                      fullWidth
                      label={`${title} priority`}
                      value={method.priority}
                      onChange={(event) => update(method.rowId, { priority: event.target.value })}
                      error={Boolean(at("priority"))}
                      helperText={text("priority", "Lower is tried first")}
                      disabled={disabled}
                      slotProps={{ htmlInput: { inputMode: "numeric" } }}
                    />
                  </Grid>
                  {method.protocol === "winrm" ? (
                    <>
                      <Grid size={{ xs: 12, sm: 4 }}>
                        <TextField
                          select
                          fullWidth
                          label={`${title} WinRM scheme`}
                          value={method.winrm_scheme}
                          onChange={(event) => update(method.rowId, { winrm_scheme: event.target.value as MethodDraft["winrm_scheme"] })}
                          error={Boolean(at("winrm_scheme"))}
                          helperText={text("winrm_scheme")}
                          disabled={disabled}
                        >
                          <MenuItem value="http">HTTP (5985)</MenuItem>
                          <MenuItem value="https">HTTPS (5986)</MenuItem>
                        </TextField>
                      </Grid>
                      <Grid size={{ xs: 12, sm: 4 }}>
                        <TextField
                          select
                          fullWidth
                          label={`${title} WinRM transport`}
                          value={method.winrm_transport}
                          onChange={(event) =>
                            update(method.rowId, { winrm_transport: event.target.value as MethodDraft["winrm_transport"] })
                          }
                          error={Boolean(at("winrm_transport"))}
                          helperText={text("winrm_transport")}
                          disabled={disabled}
                        >
                          <MenuItem value="ntlm">NTLM</MenuItem>
                          <MenuItem value="basic">Basic</MenuItem>
                          <MenuItem value="kerberos">Kerberos</MenuItem>
                          <MenuItem value="credssp">CredSSP</MenuItem>
                        </TextField>
                      </Grid>
                      <Grid size={{ xs: 12, sm: 4 }}>
                        <FormControlLabel
                          control={
                            <Checkbox
                              checked={method.winrm_validate_cert}
                              onChange={(event) => update(method.rowId, { winrm_validate_cert: event.target.checked })}
                              disabled={disabled}
                            />
                          }
                          label="Validate the server's certificate"
                        />
                      </Grid>
                    </>
                  ) : at("winrm_scheme") ? (
                    <Grid size={12}>
                      <Typography role="alert" color="error" variant="body2">
                        {at("winrm_scheme")?.join(" ")}
                      </Typography>
                    </Grid>
                  ) : null}
                </Grid>
              </CardContent>
            </Card>
          );
        })}
      </Stack>
      <Button startIcon={<Add />} onClick={add} disabled={disabled} sx={{ mt: 1 }}>
        Add a connection method
      </Button>
    </Box>
  );
}

/** The paths this editor shows at a field (not to be repeated in the form's alert). */
export function methodPaths(count: number): string[] {
  const fields = [
    "protocol",
    "host",
    "port",
    "username",
    "credential",
    "priority",
    "is_primary",
    "non_field_errors",
    "winrm_scheme",
    "winrm_transport",
    "winrm_validate_cert",
  ];
  return Array.from({ length: count }, (_, index) => fields.map((field) => `connection_methods.${index}.${field}`)).flat();
}
