import { useEffect, useState } from "preact/hooks";

import { api, onUnauthenticated } from "./api";
import { Link } from "./components/Link";
import { Logo } from "./components/Logo";
import { ThemeSelect } from "./components/ThemeSelect";
import { applyTheme, followSystem, storedTheme, type ThemeChoice } from "./lib/theme";
import { ApplicationPage } from "./pages/Application";
import { ApplicationsPage } from "./pages/Applications";
import { LoginPage } from "./pages/Login";
import { SettingsPage } from "./pages/Settings";
import { navigate, parseRoute, useLocation } from "./router";

type User = { username: string } | null | undefined; // undefined: not known yet

export function App() {
  const loc = useLocation();
  const route = parseRoute(loc.pathname, loc.search);
  const [user, setUser] = useState<User>(undefined);
  const [theme, setTheme] = useState<ThemeChoice>(storedTheme());

  useEffect(() => {
    api
      .userInfo()
      .then((info) => setUser(info.loggedIn && info.username ? { username: info.username } : null))
      .catch(() => setUser(null));
    return onUnauthenticated(() => setUser(null));
  }, []);
  useEffect(() => followSystem(() => theme), [theme]);

  useEffect(() => {
    const titles: Record<string, string> = {
      applications: "Applications",
      settings: "Settings",
      login: "Log in",
      notfound: "Not found",
    };
    const page = route.page === "application" ? route.name : titles[route.page];
    document.title = `${page} · ferry`;
  }, [route.page, route.page === "application" ? route.name : ""]);

  // A logged-in user has nothing to do on /login.
  useEffect(() => {
    if (user && route.page === "login") navigate("/applications", true);
  }, [user, route.page]);

  const chooseTheme = (choice: ThemeChoice) => {
    setTheme(choice);
    applyTheme(choice);
  };

  const logout = async () => {
    try {
      await api.logout();
    } finally {
      setUser(null);
      navigate("/login");
    }
  };

  if (user === undefined) {
    return (
      <main id="main" class="loading" aria-busy="true">
        Loading…
      </main>
    );
  }
  if (user === null) {
    return (
      <LoginPage
        onLogin={(username) => {
          setUser({ username });
          if (route.page === "login") navigate("/applications", true);
        }}
        theme={theme}
        onTheme={chooseTheme}
      />
    );
  }

  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <Link to="/applications" class="brand">
          <Logo /> ferry
        </Link>
        <nav aria-label="Main">
          <ul>
            <li>
              <Link to="/applications" aria-current={route.page === "applications" || route.page === "application" ? "page" : undefined}>
                Applications
              </Link>
            </li>
            <li>
              <Link to="/settings" aria-current={route.page === "settings" ? "page" : undefined}>
                Settings
              </Link>
            </li>
          </ul>
        </nav>
        <div class="topbar-end">
          <ThemeSelect theme={theme} onTheme={chooseTheme} />
          <span class="user">
            <span class="visually-hidden">Logged in as </span>
            <span data-testid="current-user">{user.username}</span>
          </span>
          <button type="button" class="button" onClick={logout}>
            Log out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {route.page === "applications" && <ApplicationsPage search={loc.search} />}
        {route.page === "application" && <ApplicationPage key={route.name} name={route.name} resource={route.resource} />}
        {route.page === "settings" && <SettingsPage />}
        {route.page === "notfound" && (
          <section class="page">
            <h1>Page not found</h1>
            <p>
              <Link to="/applications">Go to the applications</Link>
            </p>
          </section>
        )}
      </main>
    </>
  );
}
