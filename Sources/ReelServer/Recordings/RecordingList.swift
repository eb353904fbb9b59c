import Foundation
import Logging
import ReelErrors

/// One page of the list of recordings, newest first.
struct RecordingPage: Sendable {
    var entries: [RecordingEntry]
    var total: Int
    /// The cursor of the next page (the id of this page's last entry), nil on the last page.
    var next: String?
}

/// Every recording there has been, newest first, kept in memory and saved to
/// the catalog at every change, so the list and the uploads still to retry
/// survive a restart. Changes are made under a lock, one at a time.
final class RecordingList: @unchecked Sendable {
    private let catalog: any Catalog
    private let lock = NSLock()
    private var entries: [String: RecordingEntry] = [:]
    /// The ids of `entries`, newest first.
    private var newestFirst: [String] = []
    private let logger: Logger
    /// Told when a recording becomes stored or failed, for the webhook.
    private let outbox: WebhookOutbox?

    init(catalog: any Catalog, outbox: WebhookOutbox? = nil, logger: Logger) {
        self.catalog = catalog
        self.outbox = outbox
        self.logger = logger
        let (loaded, unreadable) = catalog.loadAll()
        entries = Dictionary(loaded.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        newestFirst = loaded.sorted(by: RecordingEntry.newerFirst).map(\.id)
        for name in unreadable {
            logger.warning("recording entry unreadable; skipped", metadata: ["file": "\(catalog.location)/\(name)"])
        }
    }

    func entry(_ id: String) -> RecordingEntry? { lock.withLock { entries[id] } }

    /// A recording that has just started: first in the list.
    func add(_ entry: RecordingEntry) {
        lock.withLock {
            newestFirst.insert(entry.id, at: 0)
            save(entry)
        }
    }

    /// Changes an entry and saves it; false when there is none (deleted meanwhile): nothing is made.
    @discardableResult
    func update(_ id: String, _ change: (inout RecordingEntry) -> Void) -> Bool {
        lock.withLock {
            guard entries[id] != nil else { return false }
            apply(change, to: id, createdIfNew: Date())
            return true
        }
    }

    /// Changes an entry, or makes one created at `createdIfNew` (what a crash left), and saves it.
    func upsert(_ id: String, createdIfNew: Date, _ change: (inout RecordingEntry) -> Void) {
        lock.withLock { apply(change, to: id, createdIfNew: createdIfNew) }
    }

    /// The change itself, under the lock. The webhook's event is kept before the entry is saved:
    /// a crash in between sends it twice rather than never.
    private func apply(_ change: (inout RecordingEntry) -> Void, to id: String, createdIfNew: Date) {
        let before = entries[id]
        var entry = before ?? RecordingEntry(id: id, created: createdIfNew, state: .pending)
        if before == nil {
            let index = newestFirst.firstIndex { entries[$0].map { RecordingEntry.newerFirst(entry, $0) } ?? false }
            newestFirst.insert(id, at: index ?? newestFirst.endIndex)
        }
        change(&entry)
        if entry.state != before?.state {
            switch entry.state {
            case .stored: outbox?.add(.stored, entry)
            case .failed: outbox?.add(.failed, entry)
            case .recording, .finishing, .pending: break
            }
        }
        save(entry)
    }

    /// Removes a recording that left nothing worth listing.
    func forget(_ id: String) {
        lock.withLock {
            entries[id] = nil
            newestFirst.removeAll { $0 == id }
            catalog.remove(id: id)
        }
    }

    /// The ids of a page, after the recording `before` (a cursor from an earlier page).
    func page(limit: Int, before: String?) throws -> (ids: [String], total: Int, next: String?) {
        try lock.withLock {
            var start = 0
            if let before {
                guard let index = newestFirst.firstIndex(of: before) else { throw RecordingError.unknownCursor(id: before) }
                start = index + 1
            }
            let ids = Array(newestFirst[start..<min(newestFirst.count, start + limit)])
            let next = start + ids.count < newestFirst.count ? ids.last : nil
            return (ids, newestFirst.count, next)
        }
    }

    /// Entries in one of `states`.
    func entries(in states: Set<RecordingEntry.State>) -> [RecordingEntry] {
        lock.withLock { entries.values.filter { states.contains($0.state) } }
    }

    /// How many recordings are stored, and their bytes.
    func storedTotals() -> (count: Int, bytes: Int) {
        lock.withLock {
            entries.values.reduce(into: (0, 0)) { totals, entry in
                if entry.state == .stored { totals.0 += 1; totals.1 += entry.bytes }
            }
        }
    }

    var pendingCount: Int { lock.withLock { entries.values.filter { $0.state == .pending }.count } }

    /// The thumbnail's file, once the recording has one.
    func thumbnailPath(_ id: String) -> String? {
        entry(id)?.hasThumbnail == true ? catalog.thumbnailPath(id: id) : nil
    }

    /// Saves the thumbnail `make` gives; false (and a warning) when there is none.
    func saveThumbnail(_ id: String, _ make: () throws -> [UInt8]?) -> Bool {
        do {
            guard let jpeg = try make() else { return false }
            try catalog.saveThumbnail(jpeg, id: id)
            return true
        } catch {
            logger.warning("no thumbnail for the recording", metadata: ["recording.id": "\(id)", "error": "\(describe(error))"])
            return false
        }
    }

    /// Keeps the entry in memory and in the catalog; called under the lock.
    private func save(_ entry: RecordingEntry) {
        entries[entry.id] = entry
        do {
            try catalog.save(entry)
        } catch {
            logger.error("cannot save the recording's entry", metadata: ["recording.id": "\(entry.id)", "error": "\(describe(error))"])
        }
    }
}
