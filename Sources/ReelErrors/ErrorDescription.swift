import Foundation

/// An error as one line a person can act on: what failed, where, and why —
/// never a Foundation error's domain, code and user-info dump.
public func describe(_ error: any Error) -> String {
    switch error {
    case let error as CocoaError:
        return describe(error)
    case let error as POSIXError:
        return reason(errno: error.code.rawValue)
    case let error as any CustomStringConvertible where !(type(of: error) is NSError.Type):
        return error.description
    default:
        let error = error as NSError
        if error.domain == NSPOSIXErrorDomain { return reason(errno: Int32(error.code)) }
        if error.domain == NSCocoaErrorDomain { return describe(CocoaError(CocoaError.Code(rawValue: error.code), userInfo: error.userInfo)) }
        return "\(error.domain) error \(error.code)"
    }
}

/// `strerror`'s text, lower-cased the way the rest of a message is: "no such file or directory".
public func reason(errno code: Int32) -> String {
    let text = String(cString: strerror(code))
    return text.prefix(1).lowercased() + text.dropFirst()
}

/// Why an error happened, without the path it names: for messages that name the path themselves.
public func reason(of error: any Error) -> String {
    if let error = error as? CocoaError { return reason(of: error) }
    return describe(error)
}

private func describe(_ error: CocoaError) -> String {
    let path = (error.userInfo[NSFilePathErrorKey] as? String) ?? error.filePath ?? error.url?.path
    let why = reason(of: error)
    return path.map { "\($0): \(why)" } ?? why
}

private func reason(of error: CocoaError) -> String {
    let why: String
    if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
        why = reason(errno: Int32(underlying.code))
    } else {
        why = switch error.code {
        case .fileNoSuchFile, .fileReadNoSuchFile: "no such file or folder"
        case .fileReadNoPermission, .fileWriteNoPermission: "permission denied"
        case .fileWriteFileExists: "a file of that name is in the way"
        case .fileWriteOutOfSpace: "no space left on the disk"
        case .fileWriteVolumeReadOnly: "the disk is read-only"
        case .fileReadCorruptFile: "the file cannot be read as expected"
        case .fileReadTooLarge: "the file is too large"
        case .fileReadInapplicableStringEncoding, .fileWriteInapplicableStringEncoding: "the text is not UTF-8"
        case .fileLocking: "the file is locked"
        default: "file error \(error.code.rawValue)"
        }
    }
    return why
}
