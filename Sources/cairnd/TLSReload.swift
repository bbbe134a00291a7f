import CairnCore
import CairnServer
import Dispatch
import Foundation
import Logging

/// Reads the TLS certificate and key again when cairnd gets `SIGHUP` (a renewed certificate
/// goes live without a restart): new connections get it, open ones keep theirs. A file that
/// cannot be read is logged and the certificate in use stays.
final class TLSReloadOnHangup {
    private let source: any DispatchSourceSignal

    init(server: CairnServer, logger: Logger) {
        // The default action of SIGHUP ends the process; the dispatch source hears it instead.
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler {
            do throws(CairnError) {
                try server.reloadTLS()
                logger.notice("SIGHUP: TLS certificate and key read again; new connections use them")
            } catch {
                logger.error("SIGHUP: TLS files not reloaded, the previous certificate stays in use: \(error.message)")
            }
        }
        source.resume()
        self.source = source
    }

    func stop() {
        source.cancel()
    }
}
