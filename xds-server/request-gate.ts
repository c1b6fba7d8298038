/**
 * The gate in front of one ADS stream: its first request decides where the stream belongs
 * (`admit`); until then, and while the server has published nothing, requests queue in arrival
 * order. Once admitted, the queue runs and every later request passes straight through; once
 * refused, requests are dropped.
 */
import type { Admission } from './fleet-streams';

export interface RequestGateDeps<Req> {
  /** Binds the stream using its first request (the one that names the node). */
  admit(first: Req): Admission;
  /** Handles one request of an admitted stream. */
  run(req: Req): void;
  /** Called once per wait: `release` retries the admission (after the first publication). */
  wait(release: () => void): void;
}

export class RequestGate<Req> {
  private state: 'open' | 'waiting' | 'bound' | 'rejected' = 'open';
  private readonly queued: Req[] = [];

  constructor(private readonly deps: RequestGateDeps<Req>) {}

  get admission(): 'open' | 'waiting' | 'bound' | 'rejected' {
    return this.state;
  }

  push(req: Req): void {
    switch (this.state) {
      case 'bound':
        this.deps.run(req);
        return;
      case 'rejected':
        return;
      case 'waiting':
        this.queued.push(req);
        return;
      case 'open':
        this.queued.push(req);
        this.tryAdmit();
    }
  }

  private tryAdmit(): void {
    const outcome = this.deps.admit(this.queued[0]!);
    if (outcome === 'wait') {
      this.state = 'waiting';
      this.deps.wait(() => {
        if (this.state !== 'waiting') return;
        this.state = 'open';
        this.tryAdmit();
      });
      return;
    }
    this.state = outcome;
    const queued = this.queued.splice(0);
    if (outcome === 'bound') for (const req of queued) this.deps.run(req);
  }
}
