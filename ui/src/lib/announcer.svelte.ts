// One polite live region for things a screen-reader user should hear
// (state changes, a call connecting or ending); App renders it.
export const announcer = $state({ text: "" });
let seq = 0;

export function announce(text: string): void {
  // A changed string is re-read even when the words repeat.
  seq++;
  announcer.text = seq % 2 ? text : `${text}\u00a0`;
}
