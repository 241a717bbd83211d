// A shared clock for timers on screen (talk time, wrap-up countdown): one
// interval for the whole window, ticking once a second while started.
export const clock = $state({ now: Date.now() });
let timer: ReturnType<typeof setInterval> | null = null;

export function startClock(): () => void {
  clock.now = Date.now();
  timer ??= setInterval(() => (clock.now = Date.now()), 1000);
  return () => {
    if (timer !== null) clearInterval(timer);
    timer = null;
  };
}
