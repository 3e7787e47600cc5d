import TestSupport
import Testing
@testable import Hiredis

@Suite("PoolStateMachine, no sockets")
struct PoolStateMachineTests {
    func machine(max: Int = 2, threshold: Int = 4) -> PoolStateMachine<Int> {
        PoolStateMachine(configuration: .init(
            maxConnections: max, openWhenInFlightAtLeast: threshold,
            backoffBaseNanoseconds: 50_000_000, backoffMaxNanoseconds: 1_000_000_000))
    }

    @Test func firstCallerOpensAndIsServedWhenConnected() {
        var pool = machine()
        #expect(pool.acquire(waiter: 1, exclusive: false, now: 0) { _ in 0 } == .wait(open: 0))
        #expect(pool.acquire(waiter: 2, exclusive: false, now: 0) { _ in 0 } == .wait(open: nil))  // one connect serves shared callers
        #expect(pool.connected(0, 0) == [.resume(waiter: 1, connection: 0), .resume(waiter: 2, connection: 0)])
        #expect(pool.totalCreated == 1)
    }

    @Test func sharedCallersOpenAnotherConnectionOnlyWhenTheLeastLoadedIsBusy() {
        var pool = machine(max: 2, threshold: 4)
        _ = pool.acquire(waiter: 1, exclusive: false, now: 0) { _ in 0 }
        _ = pool.connected(0, 0)
        #expect(pool.acquire(waiter: 2, exclusive: false, now: 0) { _ in 3 } == .use(connection: 0, open: nil))
        #expect(pool.acquire(waiter: 3, exclusive: false, now: 0) { _ in 4 } == .use(connection: 0, open: 1))
        _ = pool.connected(1, 1)
        #expect(pool.acquire(waiter: 4, exclusive: false, now: 0) { $0 == 0 ? 9 : 2 } == .use(connection: 1, open: nil))
        // At the maximum, shared callers keep multiplexing.
        #expect(pool.acquire(waiter: 5, exclusive: false, now: 0) { _ in 100 } == .use(connection: 0, open: nil))
    }

    @Test func exclusiveLeasesWaitFIFOAndAreServedOnRelease() {
        var pool = machine(max: 1)
        _ = pool.acquire(waiter: 1, exclusive: true, now: 0) { _ in 0 }
        #expect(pool.connected(0, 0) == [.resume(waiter: 1, connection: 0)])
        #expect(pool.slots[0] == .leased)
        #expect(pool.acquire(waiter: 2, exclusive: true, now: 0) { _ in 0 } == .wait(open: nil))
        #expect(pool.acquire(waiter: 3, exclusive: false, now: 0) { _ in 0 } == .wait(open: nil))
        #expect(pool.released(0, reusable: true, now: 0) { _ in 0 } == [.resume(waiter: 2, connection: 0)])
        #expect(pool.released(0, reusable: true, now: 0) { _ in 0 } == [.resume(waiter: 3, connection: 0)])
        #expect(pool.slots[0] == .shared)
    }

    @Test func abandonedWaiterIsSkipped() {
        var pool = machine(max: 1)
        _ = pool.acquire(waiter: 1, exclusive: true, now: 0) { _ in 0 }
        _ = pool.connected(0, 0)
        _ = pool.acquire(waiter: 2, exclusive: true, now: 0) { _ in 0 }
        _ = pool.acquire(waiter: 3, exclusive: true, now: 0) { _ in 0 }
        let first = pool.abandon(waiter: 2)
        let second = pool.abandon(waiter: 2)
        #expect(first && !second)
        #expect(pool.released(0, reusable: true, now: 0) { _ in 0 } == [.resume(waiter: 3, connection: 0)])
    }

    @Test func failedConnectFailsWaitersThenBacksOffThenRetries() {
        var pool = machine()
        let refused = RedisError(.connectionRefused, "connection refused by h:1")
        _ = pool.acquire(waiter: 1, exclusive: false, now: 0) { _ in 0 }
        #expect(pool.connectFailed(0, error: refused, now: 0, jitter: 1) == [.fail(waiter: 1, refused)])
        guard case .fail(let error) = pool.acquire(waiter: 2, exclusive: false, now: 10_000_000, load: { _ in 0 }) else {
            Issue.record("a caller during the backoff must fail at once")
            return
        }
        #expect(error.code == .connectionRefused)
        #expect(error.message.contains("next attempt in"))
        #expect(pool.acquire(waiter: 3, exclusive: false, now: 50_000_000) { _ in 0 } == .wait(open: 1))
        // The delay doubles per consecutive failure and is capped.
        _ = pool.connectFailed(1, error: refused, now: 50_000_000, jitter: 1)
        guard case .fail = pool.acquire(waiter: 4, exclusive: false, now: 140_000_000, load: { _ in 0 }) else {
            Issue.record("the second backoff is 100 ms")
            return
        }
        #expect(pool.acquire(waiter: 5, exclusive: false, now: 150_000_000) { _ in 0 } == .wait(open: 2))
        #expect(pool.totalFailed == 2)
    }

    @Test func brokenConnectionIsReplacedForWaiters() {
        var pool = machine(max: 1)
        _ = pool.acquire(waiter: 1, exclusive: true, now: 0) { _ in 0 }
        _ = pool.connected(0, 0)
        _ = pool.acquire(waiter: 2, exclusive: true, now: 0) { _ in 0 }
        #expect(pool.released(0, reusable: false, now: 0) { _ in 0 } == [.open(1)])
        #expect(pool.connected(1, 1) == [.resume(waiter: 2, connection: 1)])
    }

    @Test func closeFailsWaitersAndClosesSharedConnections() {
        var pool = machine(max: 2)
        _ = pool.acquire(waiter: 1, exclusive: false, now: 0) { _ in 0 }
        _ = pool.connected(0, 0)
        _ = pool.acquire(waiter: 2, exclusive: true, now: 0) { _ in 0 }   // leases 0
        _ = pool.acquire(waiter: 3, exclusive: true, now: 0) { _ in 0 }   // opens 1
        _ = pool.connected(1, 1)
        _ = pool.acquire(waiter: 4, exclusive: true, now: 0) { _ in 0 }   // waits
        let (failed, closeNow) = pool.close()
        #expect(failed == [.fail(waiter: 4, PoolStateMachine<Int>.closedError)])
        #expect(closeNow == [])
        #expect(pool.acquire(waiter: 5, exclusive: false, now: 0) { _ in 0 } == .fail(PoolStateMachine<Int>.closedError))
        #expect(!pool.isDrained)
        #expect(pool.released(0, reusable: true, now: 0) { _ in 0 } == [])
        #expect(pool.released(1, reusable: true, now: 0) { _ in 0 } == [])
        #expect(pool.isDrained)
    }

    @Test func sharedWaitersWaitForTheConnectAndGetItsError() {
        var pool = machine(max: 2)
        #expect(pool.acquire(waiter: 1, exclusive: false, now: 0) { _ in 0 } == .wait(open: 0))
        // The lease timer fires while the connect is under way: a shared caller keeps waiting for it.
        #expect(pool.leaseTimedOut(waiter: 1, endpoint: "h:1", leaseTimeout: .seconds(5)) == .keepWaiting)
        let timedOut = RedisError(.connectTimeout, "could not connect to h:1 within 30 s")
        #expect(pool.connectFailed(0, error: timedOut, now: 0, jitter: 1) == [.fail(waiter: 1, timedOut)])
        #expect(pool.leaseTimedOut(waiter: 1, endpoint: "h:1", leaseTimeout: .seconds(5)) == .none)
    }

    @Test func leaseTimeoutMessagesSuggestRaisingLimitsOnlyWhenEveryConnectionIsLeased() {
        var pool = machine(max: 1)
        _ = pool.acquire(waiter: 1, exclusive: true, now: 0) { _ in 0 }
        guard case .fail(let opening) = pool.leaseTimedOut(waiter: 1, endpoint: "h:1", leaseTimeout: .seconds(5)) else {
            Issue.record("an exclusive caller fails at its lease timeout")
            return
        }
        #expect(opening.code == .poolExhausted)
        #expect(!opening.message.contains("raise") && opening.message.contains("connect"), "\(opening.message)")
        _ = pool.acquire(waiter: 2, exclusive: true, now: 0) { _ in 0 }
        _ = pool.connected(0, 0)
        _ = pool.acquire(waiter: 3, exclusive: true, now: 0) { _ in 0 }
        guard case .fail(let busy) = pool.leaseTimedOut(waiter: 3, endpoint: "h:1", leaseTimeout: .seconds(5)) else {
            Issue.record("an exclusive caller fails at its lease timeout")
            return
        }
        #expect(busy.message.contains("1 of 1 leased") && busy.message.contains("raise maxConnections"), "\(busy.message)")
    }
}
