import NIOCore
import NIOHTTPTypes

/// Closes the connection once a response that says `Connection: close` is
/// written. Without it the server would read on through the rest of a refused
/// body (a 2 GB upload answered 413) only to throw it away.
final class CloseAfterResponse: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var closing = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            closing = head.headerFields[.connection]?.lowercased() == "close"
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            guard closing else { return context.write(data, promise: promise) }
            closing = false
            let written = context.writeAndFlush(data)
            written.whenComplete { _ in context.close(promise: nil) }
            written.cascade(to: promise)
        }
    }
}
