/**
 * The device side of the Mender server's API, as the C++ client's own source calls it
 * (mender 5.1: src/mender-auth/api/auth/auth.cpp, src/mender-update/deployments/deployments.cpp,
 * src/mender-update/inventory.cpp), served over HTTPS on 127.0.0.1 only, with a self-signed
 * certificate made by openssl (the client's ServerCertificate). Enough to drive `mender-update daemon`
 * through one deployment and record what it reports:
 *   POST /api/devices/v1/authentication/auth_requests   id_data + pubkey, signed (X-MEN-Signature); 200 + token
 *   POST /api/devices/v2/deployments/device/deployments/next   device_provides; 200 + deployment, or 204
 *   GET  /api/devices/v1/deployments/device/deployments/next   (the client's fallback when v2 is 404)
 *   PUT  /api/devices/v1/deployments/device/deployments/ID/status   {"status": ...}; 204
 *   PUT  /api/devices/v1/deployments/device/deployments/ID/log      {"messages": [...]}; 204
 *   PUT  /api/devices/v1/inventory/device/attributes                 [{"name", "value"}]; 200
 *   GET  /artifacts/ID.mender   the deployment's Artifact (the "source.uri"; no token, like a presigned link)
 * Device API calls without the token get 401; anything else is recorded as unexpected (404).
 */
import { execFileSync } from "node:child_process";
import { randomBytes, verify } from "node:crypto";
import fs from "node:fs";
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";

export interface Deployment {
  id: string;
  artifactName: string;
  /** The Artifact file the download link serves. */
  file: string;
  deviceTypes: string[];
}

export interface LogMessage {
  timestamp: string;
  level: string;
  message: string;
}

const AUTH = "/api/devices/v1/authentication/auth_requests";
const NEXT_V2 = "/api/devices/v2/deployments/device/deployments/next";
const NEXT_V1 = "/api/devices/v1/deployments/device/deployments/next";
const DEPLOYMENTS = "/api/devices/v1/deployments/device/deployments/";
const INVENTORY = "/api/devices/v1/inventory/device/attributes";

export class MenderServerStub {
  /** Deployment statuses in the order the device reported them. */
  readonly statuses: { id: string; status: string }[] = [];
  /** Deployment logs the device uploaded, by deployment id. */
  readonly logs = new Map<string, LogMessage[]>();
  /** Every inventory the device submitted. */
  readonly inventories: { name: string; value: string | string[] }[][] = [];
  /** device_provides of every v2 poll. */
  readonly polls: Record<string, string>[] = [];
  /** Authentication requests whose signature verified with the key they carried. */
  authentications = 0;
  /** Requests outside the API, or malformed: the test asserts there are none. */
  readonly unexpected: string[] = [];
  private pending: Deployment | undefined;
  private served = new Map<string, Deployment>();
  private token = "";

  private constructor(
    private readonly server: https.Server,
    readonly url: string,
    /** The self-signed certificate the client must trust (ServerCertificate). */
    readonly certificate: string,
  ) {}

  /** Makes a certificate for 127.0.0.1 in `dir` and listens on 127.0.0.1 (a free port). */
  static async start(dir: string): Promise<MenderServerStub> {
    fs.mkdirSync(dir, { recursive: true });
    const key = path.join(dir, "server.key");
    const cert = path.join(dir, "server.crt");
    execFileSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
      { stdio: "ignore" },
    );
    let stub: MenderServerStub | undefined;
    const server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) => {
      // A request the client abandons (the test stops the daemon while it sends) rejects with
      // "aborted": there is nobody left to answer, and it must not outlive the test unhandled.
      stub!.handle(req, res).catch(() => res.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", resolve);
    });
    const { port } = server.address() as AddressInfo;
    stub = new MenderServerStub(server, `https://127.0.0.1:${port}`, cert);
    return stub;
  }

  /** The next poll from a device of a listed type that does not run the Artifact yet gets this deployment. */
  deploy(d: Deployment): void {
    this.pending = d;
  }

  /** The statuses reported for deployment `id`, in order. */
  statusesOf(id: string): string[] {
    return this.statuses.filter((s) => s.id === id).map((s) => s.status);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    const body = await readBody(req);
    const reply = (status: number, payload?: unknown, type = "application/json"): void => {
      const data = payload === undefined ? "" : typeof payload === "string" ? payload : JSON.stringify(payload);
      res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(data) });
      res.end(data);
    };
    const what = `${req.method} ${url.pathname}`;
    try {
      if (what === `POST ${AUTH}`) return this.authenticate(req, body, reply);
      if (req.method === "GET" && url.pathname.startsWith("/artifacts/")) return this.serveArtifact(url.pathname.slice("/artifacts/".length), req, res);
      if (req.headers.authorization !== `Bearer ${this.token}` || this.token === "") return reply(401, { error: "unauthorized" });
      if (what === `POST ${NEXT_V2}`) {
        const provides = (JSON.parse(body.toString("utf8")) as { device_provides: Record<string, string> }).device_provides;
        this.polls.push(provides);
        return this.next(provides["device_type"] ?? "", provides["artifact_name"] ?? "", reply);
      }
      if (what === `GET ${NEXT_V1}`) return this.next(url.searchParams.get("device_type") ?? "", url.searchParams.get("artifact_name") ?? "", reply);
      if (what === `PUT ${INVENTORY}`) {
        this.inventories.push(JSON.parse(body.toString("utf8")) as { name: string; value: string | string[] }[]);
        return reply(200);
      }
      const m = /^PUT \/api\/devices\/v1\/deployments\/device\/deployments\/([^/]+)\/(status|log)$/.exec(what);
      if (m && this.served.has(m[1]!)) {
        const json = JSON.parse(body.toString("utf8")) as { status?: string; messages?: LogMessage[] };
        if (m[2] === "status" && typeof json.status === "string") this.statuses.push({ id: m[1]!, status: json.status });
        else if (m[2] === "log" && Array.isArray(json.messages)) this.logs.set(m[1]!, json.messages);
        else throw new Error(`malformed ${m[2]} body: ${body.toString("utf8").slice(0, 200)}`);
        return reply(204);
      }
      this.unexpected.push(what);
      reply(404, { error: `not served: ${what}` });
    } catch (err) {
      this.unexpected.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
      reply(400, { error: "bad request" });
    }
  }

  /** The body is JSON with id_data and pubkey; X-MEN-Signature is the base64 signature of the body with that key. */
  private authenticate(req: IncomingMessage, body: Buffer, reply: (status: number, payload?: unknown, type?: string) => void): void {
    const request = JSON.parse(body.toString("utf8")) as { id_data?: string; pubkey?: string };
    const signature = Buffer.from(String(req.headers["x-men-signature"] ?? ""), "base64");
    if (typeof request.id_data !== "string" || typeof request.pubkey !== "string" || !verify(null, body, request.pubkey, signature)) {
      throw new Error("auth request without id_data/pubkey, or its signature does not verify");
    }
    this.authentications++;
    this.token = randomBytes(12).toString("hex");
    reply(200, this.token, "application/jwt");
  }

  private next(deviceType: string, artifactName: string, reply: (status: number, payload?: unknown) => void): void {
    const d = this.pending;
    if (!d || !d.deviceTypes.includes(deviceType) || d.artifactName === artifactName) return reply(204);
    // Served once, as the server does after the device took it (it then reports its statuses).
    this.pending = undefined;
    this.served.set(d.id, d);
    reply(200, {
      id: d.id,
      artifact: {
        id: `artifact-${d.id}`,
        artifact_name: d.artifactName,
        source: { uri: `${this.url}/artifacts/${d.id}.mender`, expire: new Date(Date.now() + 3600_000).toISOString() },
        device_types_compatible: d.deviceTypes,
      },
    });
  }

  /** The Artifact, whole or from the byte a resumed download asks for (Range: bytes=N-). */
  private serveArtifact(name: string, req: IncomingMessage, res: ServerResponse): void {
    const d = this.served.get(name.replace(/\.mender$/, ""));
    if (!d) {
      this.unexpected.push(`GET /artifacts/${name}`);
      res.writeHead(404).end();
      return;
    }
    const size = fs.statSync(d.file).size;
    const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ""));
    const start = range ? Number(range[1]) : 0;
    res.writeHead(range ? 206 : 200, {
      "Content-Type": "application/vnd.mender-artifact",
      "Content-Length": size - start,
      ...(range ? { "Content-Range": `bytes ${start}-${size - 1}/${size}` } : {}),
    });
    fs.createReadStream(d.file, { start }).pipe(res);
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}
