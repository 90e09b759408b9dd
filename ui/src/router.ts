// A small History API router: /applications, /applications/NAME, /settings, /login. ferry-server
// answers every non-/api path with index.html, so reloads and shared links work.

import { useEffect, useState } from "preact/hooks";

export type Route =
  | { page: "applications" }
  | { page: "application"; name: string; resource?: string }
  | { page: "settings" }
  | { page: "login" }
  | { page: "notfound" };

export function parseRoute(pathname: string, search = ""): Route {
  const parts = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0 || (parts.length === 1 && parts[0] === "applications")) return { page: "applications" };
  if (parts[0] === "applications" && parts.length === 2) {
    const resource = new URLSearchParams(search).get("resource") ?? undefined;
    return { page: "application", name: parts[1], resource };
  }
  if (parts.length === 1 && parts[0] === "settings") return { page: "settings" };
  if (parts.length === 1 && parts[0] === "login") return { page: "login" };
  return { page: "notfound" };
}

const EVENT = "ferry:navigate";

export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  window.dispatchEvent(new Event(EVENT));
}

export function useLocation(): { pathname: string; search: string } {
  const read = () => ({ pathname: location.pathname, search: location.search });
  const [loc, setLoc] = useState(read);
  useEffect(() => {
    const update = () => setLoc(read());
    window.addEventListener("popstate", update);
    window.addEventListener(EVENT, update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener(EVENT, update);
    };
  }, []);
  return loc;
}

/** Click handler for in-app links: plain left clicks navigate without a reload. */
export function linkClick(event: MouseEvent, to: string): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(to);
}
