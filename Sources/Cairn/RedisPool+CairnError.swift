import CairnCore
import CairnRedis

/// The Redis pool's calls with failures as the `CairnError`s a client sees.
extension RedisPool {
    /// One read-only command, pipelined on the caller's event loop.
    package func read(_ command: RedisCommand) async throws(CairnError) -> RedisValue {
        do {
            return try await send(command).checked()
        } catch {
            throw Store.translate(error)
        }
    }

    /// Runs `body` with an event-loop connection of its own; a `CairnError` it throws passes through.
    package func run<T: Sendable>(_ body: (RedisChannelConnection) async throws -> T) async throws(CairnError) -> T {
        do {
            return try await withConnection(body)
        } catch let error as CairnError {
            throw error
        } catch let error as RedisError {
            throw Store.translate(error)
        } catch {
            throw CairnError(.internalError, "unexpected failure: \(error)")
        }
    }
}
