// Light and dark themes: follow the system unless the user picked one (kept in localStorage).
// The choice is the data-theme attribute of <html>; CSS does the rest.

export type ThemeChoice = "system" | "light" | "dark";
const KEY = "ferry.theme";

export function storedTheme(storage: Pick<Storage, "getItem"> | undefined = globalThis.localStorage): ThemeChoice {
  const value = storage?.getItem(KEY);
  return value === "light" || value === "dark" ? value : "system";
}

export function effectiveTheme(choice: ThemeChoice, systemDark: boolean): "light" | "dark" {
  return choice === "system" ? (systemDark ? "dark" : "light") : choice;
}

export function applyTheme(choice: ThemeChoice): void {
  const dark = globalThis.matchMedia?.("(prefers-color-scheme: dark)").matches ?? false;
  document.documentElement.dataset.theme = effectiveTheme(choice, dark);
  document.documentElement.dataset.themeChoice = choice;
  try {
    if (choice === "system") localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, choice);
  } catch {
    // storage disabled: the choice lasts for this page
  }
}

/** Re-applies the system theme when it changes while "system" is chosen. */
export function followSystem(current: () => ThemeChoice): () => void {
  const query = globalThis.matchMedia?.("(prefers-color-scheme: dark)");
  if (!query) return () => undefined;
  const listener = () => {
    if (current() === "system") applyTheme("system");
  };
  query.addEventListener("change", listener);
  return () => query.removeEventListener("change", listener);
}
