import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ReelErrors
import ReelStorage
import ServiceLifecycle

/// The router of `reel serve`: the web page at `/`, the old contract and the
/// list of recordings under `/video`, the stored videos under `/videos`,
/// `/metrics` and `/healthz`.
func buildRouter(recorder: Recorder, settings: ServerSettings) -> Router<BasicRequestContext> {
    let router = Router()
    router.add(middleware: CORSMiddleware(
        allowOrigin: .all,
        allowHeaders: [.accept, .authorization, .contentType, .origin, .range,
                       VideoController<BasicRequestContext>.sessionHeader,
                       VideoController<BasicRequestContext>.timestampHeader],
        allowMethods: [.get, .post, .head, .options, .delete]
    ))
    router.add(middleware: ErrorAnswers())
    if let token = settings.token {
        router.add(middleware: TokenMiddleware(token: token))
    }
    router.add(middleware: PeerRelay(here: settings.instanceID, frameLimit: settings.limits.maxFrameBytes, metrics: recorder.metrics))
    // Liveness: the process answers. Readiness: it can take a recording now.
    router.get("healthz") { _, _ in Answer(Success()) }
    router.get("readyz") { _, _ in
        let reasons = await recorder.notReadyReasons()
        guard reasons.isEmpty else {
            throw APIError(.serviceUnavailable, reasons.joined(separator: "; "),
                           extra: ["reasons": .array(reasons.map { .string($0) })])
        }
        return Answer(Success())
    }
    router.get("metrics") { _, _ in
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                 body: ResponseBody(byteBuffer: ByteBuffer(bytes: await recorder.metricsExposition())))
    }
    PageController().addRoutes(to: router)
    VideoController(recorder: recorder, settings: settings).addRoutes(to: router.group("video"))
    LiveController(recorder: recorder, settings: settings).addRoutes(to: router.group("video"))
    // Local disk storage is served by the server itself, under the path its URLs name.
    if let local = recorder.storage as? LocalDiskStorage {
        StoredVideoController(folder: local.folder).addRoutes(to: router.group(RouterPath(local.urlPath)))
    }
    return router
}

/// The storage the settings name: Supabase Storage when it is configured, else a folder on local disk.
public func makeVideoStorage(_ settings: ServerSettings, logger: Logger) throws -> any VideoStorage {
    if let supabase = settings.supabase {
        return SupabaseStorage(configuration: supabase, logger: logger)
    }
    return try LocalDiskStorage(folder: settings.storageDirectory)
}

/// `reel serve` as an application: tests build it the same way without argv.
public func buildApplication(settings: ServerSettings, logger: Logger) async throws -> some ApplicationProtocol {
    logger.info("reel \(reelVersion) starting", metadata: settings.summary)
    try StartupChecks.folders(settings)
    let storage = try makeVideoStorage(settings, logger: logger)
    if let supabase = storage as? SupabaseStorage {
        try await StartupChecks.bucket(supabase, logger: logger)
    }
    let metrics = ServerMetrics(presets: settings.presetPolicy.choices)
    let recorder = try await Recorder(settings: settings, storage: storage, metrics: metrics, logger: logger)
    var services: [any Service] = []
    if let webhookURL = settings.webhookURL, let outbox = recorder.outbox {
        services.append(WebhookDelivery(outbox: outbox, url: webhookURL, secret: settings.webhookSecret, holder: settings.instanceID,
                                        metrics: metrics, logger: logger, holdMargin: settings.instanceTimeout))
    }
    try await StartupChecks.sharedStorage(storage, settings, recorder.instances)
    // What a crash left is taken up before any request: no recording of this process can be mistaken for it.
    await recorder.recoverSpool()
    await recorder.beat()
    let router = buildRouter(recorder: recorder, settings: settings)
    // Sockets may use the descriptors files leave: never all of them.
    let descriptors = DescriptorLimit.raise()
    let allowed = DescriptorLimit.connectionsAllowed(within: descriptors, recordings: settings.limits.maxRecordings)
    let connections = min(settings.maxConnections ?? allowed, allowed)
    if let asked = settings.maxConnections, asked > allowed {
        logger.warning("--max-connections lowered to what the open-file limit allows",
                       metadata: ["asked": "\(asked)", "allowed": "\(allowed)", "open.files.limit": "\(descriptors)"])
    }
    let idleTimeout = TimeAmount.nanoseconds(Int64(settings.connectionIdleSeconds * 1e9))
    return Application(
        router: router,
        server: .http1(configuration: .init(additionalChannelHandlers: [CloseAfterResponse(), CloseStalledReader(timeout: idleTimeout)],
                                            idleTimeout: idleTimeout)),
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "reel",
                             availableConnectionsDelegate: MaximumAvailableConnections(connections, logger: logger)),
        services: [RecordingJanitor(recorder: recorder, logger: logger)] + services
            + (settings.keepDays == nil && settings.keepBytes == nil ? [] : [RetentionService(recorder: recorder)]),
        logger: logger
    )
}

/// Runs `reel serve` until it is stopped. A port that cannot be listened on is said as such.
public func runServer(settings: ServerSettings, logger: Logger) async throws {
    let app = try await buildApplication(settings: settings, logger: logger)
    do {
        try await app.runService()
    } catch let error as IOError {
        let address = "\(settings.host):\(settings.port)"
        switch error.errnoCode {
        case EADDRINUSE:
            throw StartupError("cannot listen on \(address): the port is in use by another program; stop it or choose another with --port (REEL_PORT)")
        case EACCES:
            throw StartupError("cannot listen on \(address): permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE); choose another with --port (REEL_PORT)")
        case EADDRNOTAVAIL:
            throw StartupError("cannot listen on \(address): no network interface of this machine has that address; choose another with --host (REEL_HOST)")
        default:
            throw StartupError("cannot listen on \(address): \(reason(errno: error.errnoCode))")
        }
    }
}
