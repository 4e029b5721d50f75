// A one-line progress display for terminals; nothing at all when stderr is not a TTY.

export class Progress {
  private readonly tty: boolean;
  private last = 0;

  constructor(
    private readonly total: number,
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  update(done: number, detail = ''): void {
    if (!this.tty) return;
    const now = Date.now();
    if (done < this.total && now - this.last < 100) return;
    this.last = now;
    const width = 30;
    const filled = this.total === 0 ? width : Math.round((done / this.total) * width);
    this.stream.write(`\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.total} ${detail}`.slice(0, this.stream.columns || 120).padEnd(this.stream.columns ? this.stream.columns - 1 : 0));
    if (done >= this.total) this.stream.write('\n');
  }
}
