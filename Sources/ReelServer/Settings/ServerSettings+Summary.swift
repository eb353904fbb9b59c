import Foundation
import Logging

extension ServerSettings {
    /// The base of this server's own URLs where no request names one (webhooks):
    /// `--public-url`, else this host and port.
    var localBaseURL: String {
        if let publicURL { return publicURL }
        let name = ["0.0.0.0", "::", ""].contains(host) ? ProcessInfo.processInfo.hostName : host
        return "http://\(name.contains(":") ? "[\(name)]" : name):\(port)"
    }

    /// Where the other servers sharing the catalog reach this one.
    var peerURL: String {
        if let advertiseURL { return advertiseURL }
        let name = ["0.0.0.0", "::", ""].contains(host) ? ProcessInfo.processInfo.hostName : host
        return "http://\(name.contains(":") ? "[\(name)]" : name):\(port)"
    }

    /// What the server is about to do, as the metadata of its one start line.
    var summary: Logger.Metadata {
        let storage = if let supabase {
            "Supabase \(supabase.url) bucket \(supabase.bucket) (\(supabase.publicBucket.map { $0 ? "public" : "private" } ?? "visibility asked"))"
        } else {
            "folder \(storageDirectory)"
        }
        return [
            "listen": "\(host):\(port)",
            "storage": "\(storage)",
            "spool": "\(spoolDirectory)",
            "recordings": "\(recordingsDirectory)",
            "catalog": "\(databaseURL.map(PostgresCatalogDatabase.redacted) ?? catalogFile)",
            "instance": "\(instanceID) at \(peerURL), lost after \(Int(instanceTimeout)) s without a heartbeat",
            "token": "\(token == nil ? "off" : "on")",
            "page": "served at /",
            "encoder": "\(encoder.size) \(encoder.fps) fps, x264 \(presetPolicy.description)\(encoderCoresSummary) crf \(encoder.crf), \(encoder.threads == 0 ? "auto" : "\(encoder.threads)") thread\(encoder.threads == 1 ? "" : "s"), \(encoder.timing.rawValue) timing, \(encoder.range.rawValue) range, \(fit.rawValue)",
            "retention": "\(retentionSummary)",
            "webhook": "\(webhookURL.map { "\(WebhookDelivery.shown($0))\(webhookSecret == nil ? "" : ", signed")" } ?? "off")",
            "limits": "\(limits.maxRecordings) recordings, \(limits.maxFramesPerRecording) frames or \(limits.maxSecondsPerRecording) s each, frames up to \(ByteCount.text(limits.maxFrameBytes)) and \(limits.maxFrameSize), idle \(limits.idleSeconds.formatted()) s, \(ByteCount.text(minFreeBytes)) kept free",
        ]
    }

    private var encoderCoresSummary: String {
        guard case .auto = presetPolicy else { return "" }
        return String(format: " on %.2f cores", EncoderCapacity.cores(self))
    }

    private var retentionSummary: String {
        let rules = [keepDays.map { "older than \($0.formatted()) day\($0 == 1 ? "" : "s")" }, keepBytes.map { "oldest over \(ByteCount.text($0))" }]
            .compactMap { $0 }
        return rules.isEmpty ? "off (recordings are kept)" : "deletes stored recordings " + rules.joined(separator: " and ")
    }
}
