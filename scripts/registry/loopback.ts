/**
 * A real registry on loopback for `npm run test:images`: distribution's `registry` (scripts/registry/build, the
 * version distribution/go.mod pins) serving a temporary folder on 127.0.0.1 at a free port, plain HTTP, no auth,
 * as the reference implementation of the OCI distribution spec serves any client.
 */
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";

const BUILD = path.resolve(__dirname, "build");

/** Builds (once, cached) and returns the paths of the given tools. */
export function buildTools<T extends string>(...tools: T[]): Record<T, string> {
    const paths = execFileSync(BUILD, tools, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 15 * 60_000 })
        .trim()
        .split("\n");
    return Object.fromEntries(tools.map((tool, i) => [tool, paths[i]])) as Record<T, string>;
}

/** A port no process holds now. */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

export class LoopbackRegistry {
    private process?: ChildProcess;
    readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "registry-"));
    host = "";

    private get logFile(): string {
        return path.join(this.dir, "registry.log");
    }

    private get output(): string {
        return fs.readFileSync(this.logFile, "utf8");
    }

    constructor(private readonly binary: string) {}

    /** Starts the registry and waits until its API answers (at most 20 s). */
    async start(): Promise<this> {
        const port = await freePort();
        this.host = `127.0.0.1:${port}`;
        const config = path.join(this.dir, "config.yml");
        // distribution's configuration reference (docs/content/about/configuration.md): filesystem storage,
        // deletes enabled so a test can take an image away, the access log kept to count what a client sent.
        fs.writeFileSync(
            config,
            [
                "version: 0.1",
                "log:",
                "  level: warn",
                "storage:",
                "  delete:",
                "    enabled: true",
                "  filesystem:",
                `    rootdirectory: ${path.join(this.dir, "data")}`,
                "http:",
                `  addr: ${this.host}`,
            ].join("\n"),
        );
        // Its log goes to a file, not a pipe: a test that blocks Node in execFileSync would leave a pipe unread,
        // and the registry would stop at its next access-log line.
        const log = fs.openSync(this.logFile, "w");
        const child = spawn(this.binary, ["serve", config], { stdio: ["ignore", log, log] });
        fs.closeSync(log);
        this.process = child;
        const deadline = Date.now() + 20_000;
        while (Date.now() < deadline) {
            if (child.exitCode !== null) {
                throw new Error(`the registry exited (${child.exitCode}) at start:\n${this.output}`);
            }
            const ok = await fetch(`http://${this.host}/v2/`).then(
                (r) => r.ok,
                () => false,
            );
            if (ok) {
                return this;
            }
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
        throw new Error(`the registry on ${this.host} did not answer within 20 s:\n${this.output}`);
    }

    /** The requests the registry logged since `from` (a length of `log()`), as "METHOD /path". */
    requests(from = 0): string[] {
        return [...this.output.slice(from).matchAll(/"([A-Z]+) (\/v2\/[^ ]*) HTTP/g)].map((m) => `${m[1]} ${m[2]}`);
    }

    /** Where the log is now, for requests() to start from. */
    mark(): number {
        return this.output.length;
    }

    async stop(): Promise<void> {
        const child = this.process;
        if (child && child.exitCode === null) {
            await new Promise<void>((resolve) => {
                child.once("exit", () => resolve());
                child.kill("SIGTERM");
            });
        }
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}
