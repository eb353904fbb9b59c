import Foundation
import Logging

/// The catalog as a server opens it at start: its database, migrated; what an earlier version
/// kept as files (entries, thumbnails, webhook events) imported; the list of recordings and the
/// registry of the servers sharing it.
struct CatalogOpening {
    let recordings: RecordingList
    let instances: InstanceRegistry

    init(settings: ServerSettings, logger: Logger) async throws {
        try FileManager.default.createDirectory(atPath: settings.recordingsDirectory, withIntermediateDirectories: true)
        let database = try await openCatalogDatabase(url: settings.databaseURL, sqlitePath: settings.catalogFile, logger: logger)
        do {
            try await CatalogSchema.migrate(database, logger: logger)
            let files = JSONCatalogImport(folder: settings.recordingsDirectory, logger: logger)
            // Events for the webhook are kept only when there is one to tell.
            let outbox = settings.webhookURL.map { _ in
                WebhookOutbox(database: database, baseURL: settings.localBaseURL, logger: logger)
            }
            try await outbox?.importFiles(from: settings.recordingsDirectory + "/outbox", backup: files.backupFolder)
            recordings = RecordingList(database: database, outbox: outbox, logger: logger)
            instances = InstanceRegistry(database: database, id: settings.instanceID, advertiseURL: settings.peerURL,
                                         timeout: settings.instanceTimeout, logger: logger)
            try await files.run(into: recordings)
        } catch {
            await database.close()
            throw error
        }
    }
}
