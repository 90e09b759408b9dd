import type { ThemeChoice } from "../lib/theme";

export function ThemeSelect({ theme, onTheme }: { theme: ThemeChoice; onTheme: (t: ThemeChoice) => void }) {
  return (
    <label class="theme-select">
      <span>Theme</span>
      <select value={theme} onChange={(e) => onTheme((e.currentTarget as HTMLSelectElement).value as ThemeChoice)}>
        <option value="system">System</option>
        <option value="light">Light</option>
        <option value="dark">Dark</option>
      </select>
    </label>
  );
}
