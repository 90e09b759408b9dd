import { useState } from "preact/hooks";

import { api } from "../api";
import { ErrorMessage } from "../components/Dialog";
import { Logo } from "../components/Logo";
import { ThemeSelect } from "../components/ThemeSelect";
import type { ThemeChoice } from "../lib/theme";

export function LoginPage({ onLogin, theme, onTheme }: { onLogin: (username: string) => void; theme: ThemeChoice; onTheme: (t: ThemeChoice) => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

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
        <p class="muted">GitOps continuous delivery. Log in with a local account.</p>
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
        <ErrorMessage error={error} />
        <button type="submit" class="button primary" disabled={busy}>
          {busy ? "Logging in…" : "Log in"}
        </button>
        <div class="login-foot">
          <ThemeSelect theme={theme} onTheme={onTheme} />
        </div>
      </form>
    </main>
  );
}
