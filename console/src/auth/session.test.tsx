import { QueryClientProvider } from "@tanstack/react-query";
import { act, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createMemoryRouter, RouterProvider, useLocation, useNavigate } from "react-router";
import { notify } from "../api/client";
import { makeQueryClient } from "../app/App";
import { fakeMe } from "../test/render";
import { RequireSession } from "./RequireSession";
import { SessionProvider, useSession } from "./session";

// The browser resolves the client's relative URLs against the page; Node's Request does not.
vi.hoisted(() => {
  const NodeRequest = globalThis.Request;
  globalThis.Request = class extends NodeRequest {
    constructor(input: RequestInfo | URL, init?: RequestInit) {
      super(typeof input === "string" ? new URL(input, "http://console.test") : input, init);
    }
  } as typeof Request;
});

// The server, as fetch sees it: whether a session is open, and what signing in answers.
const server = vi.hoisted(() => ({ signedIn: false }));
const fetchMock = vi.hoisted(() => {
  const fn = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(new URL(String(input), "http://console.test"), init);
    const path = new URL(request.url, "http://console.test").pathname;
    const json = (status: number, body: unknown) =>
      new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
    const denied = { error: { code: "not_authenticated", message: "Not signed in.", request_id: "r" } };
    if (path === "/api/v1/me/") return server.signedIn ? json(200, fakeMe("operator")) : json(401, denied);
    if (path === "/api/v1/auth/session/" && request.method === "GET") return json(200, { authenticated: server.signedIn });
    if (path === "/api/v1/auth/session/" && request.method === "POST") {
      server.signedIn = true;
      return json(200, fakeMe("operator"));
    }
    return json(404, { error: { code: "not_found", message: "No such page.", request_id: "r" } });
  });
  globalThis.fetch = fn as typeof fetch;
  return fn;
});

function Where() {
  const location = useLocation();
  return <output aria-label="Location">{location.pathname + location.search}</output>;
}

function SignInHere() {
  const { signIn } = useSession();
  const navigate = useNavigate();
  return (
    <>
      <Where />
      <button
        onClick={async () => {
          await signIn("operator-user", "secret");
          navigate("/runs");
        }}
      >
        Sign in
      </button>
    </>
  );
}

function renderApp(path: string) {
  const router = createMemoryRouter(
    [
      { path: "/login", element: <SignInHere /> },
      { element: <RequireSession />, children: [{ path: "/runs", element: <p>The runs page</p> }] },
    ],
    { initialEntries: [path] },
  );
  return render(
    <QueryClientProvider client={makeQueryClient()}>
      <SessionProvider>
        <RouterProvider router={router} />
      </SessionProvider>
    </QueryClientProvider>,
  );
}

beforeEach(() => {
  server.signedIn = false;
  window.sessionStorage.clear();
  fetchMock.mockClear();
});
afterEach(() => window.sessionStorage.clear());

describe("the console's session", () => {
  it("sends a visitor to the sign-in page with the page to come back to", async () => {
    renderApp("/runs?state=failed");
    expect(await screen.findByLabelText("Location")).toHaveTextContent("/login?next=%2Fruns%3Fstate%3Dfailed");
    expect(screen.getByLabelText("Location")).not.toHaveTextContent("ended");
  });

  it("opens the signed-in pages once signed in", async () => {
    renderApp("/runs");
    await userEvent.click(await screen.findByRole("button", { name: "Sign in" }));
    expect(await screen.findByText("The runs page")).toBeInTheDocument();
  });

  it("says the session ended when the server ends it while signed in", async () => {
    server.signedIn = true;
    renderApp("/runs");
    expect(await screen.findByText("The runs page")).toBeInTheDocument();
    act(() => notify(401, true)); // any answer of the API: the session is gone
    expect(await screen.findByLabelText("Location")).toHaveTextContent("/login?next=%2Fruns&ended=1");
  });

  it("says the session ended when a reload of a signed-in tab finds it gone", async () => {
    server.signedIn = true;
    const first = renderApp("/runs");
    expect(await screen.findByText("The runs page")).toBeInTheDocument();
    first.unmount();
    server.signedIn = false; // the password was changed elsewhere
    renderApp("/runs");
    expect(await screen.findByLabelText("Location")).toHaveTextContent("/login?next=%2Fruns&ended=1");
    expect(JSON.stringify({ ...window.sessionStorage })).not.toMatch(/token|secret/);
  });
});
