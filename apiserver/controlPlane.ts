/**
 * A real Kubernetes control plane on loopback, as controller-runtime's envtest runs one for operator
 * authors: etcd, kube-apiserver and kube-controller-manager, and no kubelet or scheduler. Objects are
 * stored, validated, defaulted and admitted (Pod Security included); controllers create the Pods of
 * Deployments, StatefulSets and Jobs, and those Pods are judged, but nothing runs and nothing is scheduled.
 */
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as https from "https";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { PROJECT_ROOT } from "../offline/harness";

/** A start that failed, with the one cause a user acts on: the build, etcd, a port in use, or a component. */
export class StartFailure extends Error {}

export interface Ports {
    readonly apiserver: number;
    readonly etcdClient: number;
    readonly etcdPeer: number;
    readonly controllerManager: number;
}

/** Ports from the environment, each named by the variable that moves it. */
export const PORT_VARIABLES: Record<keyof Ports, [string, number]> = {
    apiserver: ["APISERVER_PORT", 6443],
    etcdClient: ["ETCD_CLIENT_PORT", 2379],
    etcdPeer: ["ETCD_PEER_PORT", 2380],
    controllerManager: ["CONTROLLER_MANAGER_PORT", 10257],
};

export function portsFromEnvironment(env: NodeJS.ProcessEnv = process.env): Ports {
    return Object.fromEntries(
        Object.entries(PORT_VARIABLES).map(([key, [variable, fallback]]) => {
            const value = Number(env[variable] ?? fallback);
            if (!Number.isInteger(value) || value < 1 || value > 65535) {
                throw new StartFailure(`${variable} must be a port number (1-65535), not ${env[variable]}`);
            }
            return [key, value];
        }),
    ) as unknown as Ports;
}

/** Ports no process holds now, for a control plane beside others (the tests, beside `npm run apiserver`). */
export async function freePorts(): Promise<Ports> {
    const servers = await Promise.all(
        Object.keys(PORT_VARIABLES).map(
            () =>
                new Promise<net.Server>((resolve, reject) => {
                    const server = net.createServer();
                    server.once("error", reject);
                    server.listen(0, "127.0.0.1", () => resolve(server));
                }),
        ),
    );
    const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    return Object.fromEntries(Object.keys(PORT_VARIABLES).map((key, index) => [key, ports[index]])) as unknown as Ports;
}

/** Builds once (apiserver/build) and returns the cache folder with bin/ and crds/. */
export function build(env: NodeJS.ProcessEnv = process.env): string {
    const failure = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "apiserver-build-")), "cause");
    try {
        // The build's progress goes to the terminal as it happens; its cause of failure comes back in one line.
        return execFileSync(path.join(PROJECT_ROOT, "apiserver", "build"), {
            encoding: "utf8",
            env: { ...env, APISERVER_BUILD_FAILURE: failure },
            stdio: ["ignore", "pipe", "inherit"],
        }).trim();
    } catch {
        const cause = fs.existsSync(failure) ? fs.readFileSync(failure, "utf8").trim() : "apiserver/build failed (its output is above)";
        throw new StartFailure(`the build failed: ${cause}`);
    } finally {
        fs.rmSync(path.dirname(failure), { recursive: true, force: true });
    }
}

async function assertFree(port: number, variable: string): Promise<void> {
    await new Promise<void>((resolve, reject) => {
        const probe = net.createServer();
        probe.once("error", (error: NodeJS.ErrnoException) =>
            reject(
                new StartFailure(
                    error.code === "EADDRINUSE"
                        ? `port ${port} on 127.0.0.1 is in use: stop what holds it, or set ${variable} to a free port`
                        : `port ${port} on 127.0.0.1 cannot be opened (${variable}): ${error.message}`,
                ),
            ),
        );
        probe.listen(port, "127.0.0.1", () => probe.close(() => resolve()));
    });
}

function openssl(args: string[]): void {
    execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** A CA, the API server's serving certificate and the service-account signing key. */
function issueCredentials(dir: string): void {
    const file = (name: string) => path.join(dir, name);
    openssl([
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        file("ca.key"),
        "-out",
        file("ca.crt"),
        "-subj",
        "/CN=apiserver-ca",
        "-days",
        "2",
    ]);
    openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", file("apiserver.key"), "-out", file("apiserver.csr"), "-subj", "/CN=kube-apiserver"]);
    fs.writeFileSync(file("apiserver.ext"), "subjectAltName = IP:127.0.0.1, IP:10.0.0.1, DNS:localhost, DNS:kubernetes.default.svc\n");
    openssl([
        "x509",
        "-req",
        "-in",
        file("apiserver.csr"),
        "-CA",
        file("ca.crt"),
        "-CAkey",
        file("ca.key"),
        "-CAcreateserial",
        "-out",
        file("apiserver.crt"),
        "-days",
        "2",
        "-extfile",
        file("apiserver.ext"),
    ]);
    openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", file("service-account.key")]);
}

function kubeconfig(server: string, caFile: string, token: string): string {
    const ca = fs.readFileSync(caFile).toString("base64");
    return [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        `- name: apiserver`,
        `  cluster: {server: "${server}", certificate-authority-data: "${ca}"}`,
        "users:",
        `- name: admin`,
        `  user: {token: "${token}"}`,
        "contexts:",
        `- name: apiserver`,
        `  context: {cluster: apiserver, user: admin}`,
        "current-context: apiserver",
        "",
    ].join("\n");
}

interface Component {
    readonly name: string;
    readonly process: ChildProcess;
    readonly log: string;
    exited?: number | string;
}

const lastLines = (file: string, count = 8) => fs.readFileSync(file, "utf8").trim().split("\n").slice(-count).join("\n");

export class ControlPlane {
    private readonly components: Component[] = [];
    private stopped = false;
    readonly ports: Ports;
    readonly work: string;
    /** A kubeconfig for the admin (system:masters) user. */
    readonly kubeconfigPath: string;
    readonly server: string;

    constructor(
        readonly cache: string,
        options: { ports?: Ports; kubeconfigPath?: string } = {},
    ) {
        this.ports = options.ports ?? portsFromEnvironment();
        this.work = fs.mkdtempSync(path.join(os.tmpdir(), "apiserver-"));
        this.kubeconfigPath = options.kubeconfigPath ?? path.join(this.work, "kubeconfig");
        this.server = `https://127.0.0.1:${this.ports.apiserver}`;
    }

    /**
     * Starts etcd, kube-apiserver and kube-controller-manager; resolves when the API server is ready and the
     * controllers act. On a failure, stops what started and throws a StartFailure naming the cause.
     */
    async start(log: (line: string) => void = () => undefined): Promise<this> {
        try {
            for (const [key, [variable]] of Object.entries(PORT_VARIABLES)) {
                await assertFree(this.ports[key as keyof Ports], variable);
            }
            await this.boot(log);
            return this;
        } catch (error) {
            await this.stop();
            throw error;
        }
    }

    private async boot(log: (line: string) => void): Promise<void> {
        const { work, ports, cache } = this;
        const file = (name: string) => path.join(work, name);
        issueCredentials(work);
        const token = fs.readFileSync("/proc/sys/kernel/random/uuid", "utf8").trim();
        fs.writeFileSync(file("tokens.csv"), `${token},admin,admin,system:masters\n`, { mode: 0o600 });
        fs.mkdirSync(path.dirname(this.kubeconfigPath), { recursive: true });
        fs.writeFileSync(this.kubeconfigPath, kubeconfig(this.server, file("ca.crt"), token), { mode: 0o600 });

        const etcdUrl = `http://127.0.0.1:${ports.etcdClient}`;
        this.launch("etcd", "etcd", [
            "--data-dir",
            file("etcd"),
            "--listen-client-urls",
            etcdUrl,
            "--advertise-client-urls",
            etcdUrl,
            "--listen-peer-urls",
            `http://127.0.0.1:${ports.etcdPeer}`,
            "--initial-advertise-peer-urls",
            `http://127.0.0.1:${ports.etcdPeer}`,
            "--initial-cluster",
            `default=http://127.0.0.1:${ports.etcdPeer}`,
            // Throwaway data: what envtest does too.
            "--unsafe-no-fsync",
        ]);
        await this.until("etcd", () => httpReady(`${etcdUrl}/health`), 30);
        log(`etcd ready on ${etcdUrl}`);

        this.launch("kube-apiserver", path.join(cache, "bin", "kube-apiserver"), [
            `--etcd-servers=${etcdUrl}`,
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            `--secure-port=${ports.apiserver}`,
            `--cert-dir=${file("certs")}`,
            `--tls-cert-file=${file("apiserver.crt")}`,
            `--tls-private-key-file=${file("apiserver.key")}`,
            `--client-ca-file=${file("ca.crt")}`,
            `--token-auth-file=${file("tokens.csv")}`,
            "--authorization-mode=RBAC",
            "--service-cluster-ip-range=10.0.0.0/24",
            `--service-account-key-file=${file("service-account.key")}`,
            `--service-account-signing-key-file=${file("service-account.key")}`,
            "--service-account-issuer=https://kubernetes.default.svc",
            // GKE Standard admits privileged containers cluster-wide and leaves Pod Security to namespace labels.
            "--allow-privileged=true",
        ]);
        await this.until("kube-apiserver", () => httpsReady(`${this.server}/readyz`, file("ca.crt"), token), 90);
        log(`kube-apiserver ready on ${this.server}`);

        this.launch("kube-controller-manager", path.join(cache, "bin", "kube-controller-manager"), [
            `--kubeconfig=${this.kubeconfigPath}`,
            "--bind-address=127.0.0.1",
            `--secure-port=${ports.controllerManager}`,
            "--leader-elect=false",
            `--service-account-private-key-file=${file("service-account.key")}`,
            `--root-ca-file=${file("ca.crt")}`,
            "--controllers=*",
        ]);
        // The service-account controller gives every namespace its default ServiceAccount: proof it acts.
        await this.until(
            "kube-controller-manager",
            () => httpsReady(`${this.server}/api/v1/namespaces/default/serviceaccounts/default`, file("ca.crt"), token),
            60,
        );
        log("kube-controller-manager acting");
    }

    private launch(name: string, command: string, args: string[]): void {
        if (this.stopped) throw new StartFailure("stopped while starting");
        const log = path.join(this.work, `${name}.log`);
        const out = fs.openSync(log, "a");
        const child = spawn(command, args, { stdio: ["ignore", out, out] });
        fs.closeSync(out);
        const component: Component = { name, process: child, log };
        child.on("exit", (code, signal) => (component.exited = code ?? signal ?? "?"));
        child.on("error", (error) => (component.exited = error.message));
        this.components.push(component);
    }

    private async until(name: string, ready: () => Promise<boolean>, seconds: number): Promise<void> {
        const component = this.components.find((c) => c.name === name)!;
        const deadline = Date.now() + seconds * 1000;
        while (Date.now() < deadline) {
            if (component.exited !== undefined) {
                throw new StartFailure(
                    `${name} failed to start (exit ${component.exited}); the end of ${component.log}:\n${lastLines(component.log)}`,
                );
            }
            if (await ready()) {
                return;
            }
            await new Promise((resolve) => setTimeout(resolve, 250));
        }
        throw new StartFailure(`${name} was not ready within ${seconds} s; the end of ${component.log}:\n${lastLines(component.log)}`);
    }

    /** The logs of a component, for a report. */
    logOf(name: string): string {
        return path.join(this.work, `${name}.log`);
    }

    /** Stops every component (SIGTERM, then SIGKILL after 10 s) in reverse order and removes the data. */
    async stop(): Promise<void> {
        this.stopped = true;
        for (const component of [...this.components].reverse()) {
            if (component.exited !== undefined) continue;
            const exited = new Promise((resolve) => component.process.once("exit", resolve));
            component.process.kill("SIGTERM");
            const killer = setTimeout(() => component.process.kill("SIGKILL"), 10_000);
            await exited;
            clearTimeout(killer);
        }
        fs.rmSync(this.work, { recursive: true, force: true });
    }
}

function httpReady(url: string): Promise<boolean> {
    return fetch(url)
        .then((response) => response.ok)
        .catch(() => false);
}

function httpsReady(url: string, caFile: string, token: string): Promise<boolean> {
    return new Promise((resolve) => {
        const request = https.get(url, { ca: fs.readFileSync(caFile), headers: { Authorization: `Bearer ${token}` }, timeout: 5000 }, (response) => {
            response.resume();
            resolve(response.statusCode === 200);
        });
        request.on("error", () => resolve(false));
        request.on("timeout", () => request.destroy());
    });
}
