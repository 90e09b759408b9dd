import type { ComponentChildren } from "preact";

import { linkClick } from "../router";

export function Link({ to, children, class: cls, ...rest }: { to: string; children: ComponentChildren; class?: string; "aria-current"?: "page" }) {
  return (
    <a href={to} class={cls} onClick={(e) => linkClick(e as unknown as MouseEvent, to)} {...rest}>
      {children}
    </a>
  );
}
