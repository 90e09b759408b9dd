/** A ferry on waves, in the text colour. */
export function Logo() {
  return (
    <svg class="logo" viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" focusable="false">
      <path d="M4 13h16l-2.5 4.5h-11z" fill="currentColor" />
      <path d="M7 13V9h8l2 4M10 9V6h3v3" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linejoin="round" />
      <path d="M2 20.5c1.7 0 1.7-1 3.3-1s1.7 1 3.4 1 1.6-1 3.3-1 1.7 1 3.3 1 1.7-1 3.4-1 1.6 1 3.3 1" fill="none" stroke="var(--link)" stroke-width="1.4" />
    </svg>
  );
}
