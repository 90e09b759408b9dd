import { useEffect, useState } from "preact/hooks";

import { api } from "../api";
import { ErrorMessage } from "../components/Dialog";
import { Logo } from "../components/Logo";
import { ThemeSelect } from "../components/ThemeSelect";
import { loginChoices } from "../lib/sso";
import type { ThemeChoice } from "../lib/theme";
import type { Settings } from "../types";

export function LoginPage({ onLogin, theme, onTheme }: { onLogin: (username: string) => void; theme: ThemeChoice; onTheme: (t: ThemeChoice) => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [settings, setSettings] = useState<Settings | null>(null);

  useEffect(() => {
    // Public; without it the page still offers the local login.
    api
      .settings()
      .then(setSettings)
      .catch(() => setSettings(null));
  }, []);
  const { sso, local: localLogins } = loginChoices(settings, location.pathname, location.search);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.login(username, password);
      const info = await api.userInfo();
      onLogin(info.username || username);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <main id="main" class="login">
      <form class="login-card" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">
          <Logo /> ferry
        </h1>
        <p class="muted">GitOps continuous delivery. {localLogins ? "Log in with a local account." : "Log in with your organisation's account."}</p>
        {sso && (
          <a class="button primary sso-login" href={sso.href}>
            {sso.label}
          </a>
        )}
        {sso && localLogins && (
          <p class="login-or muted" aria-hidden="true">
            or
          </p>
        )}
        {localLogins && <LocalLogin {...{ username, setUsername, password, setPassword, busy }} />}
        <ErrorMessage error={error} />
        <div class="login-foot">
          <ThemeSelect theme={theme} onTheme={onTheme} />
        </div>
      </form>
    </main>
  );
}

/** Username and password of a local account (admin or accounts.<name> in ferry-cm). */
function LocalLogin(props: { username: string; setUsername: (v: string) => void; password: string; setPassword: (v: string) => void; busy: boolean }) {
  const { username, setUsername, password, setPassword, busy } = props;
  return (
    <>
      <label>
        Username
        <input name="username" autoComplete="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
      </label>
      <label>
        Password
        <input
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
      </label>
      <button type="submit" class="button primary" disabled={busy}>
        {busy ? "Logging in…" : "Log in"}
      </button>
    </>
  );
}
