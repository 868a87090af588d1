// The Swift suite of the gofast bindings: two nodes on loopback through the generated bindings and
// Async.swift, in Swift 6 language mode. Run by bindings/swift/run-tests.sh; prints
// `N passed, N failed`, exits 1 on failure.
import Foundation

let waitSeconds: UInt64 = 60

struct Failure: Error, CustomStringConvertible { let description: String }

func check(_ ok: Bool, _ what: String = "check failed", line: Int = #line) throws {
    if !ok { throw Failure(description: "line \(line): \(what)") }
}

/// Runs `body`, which must throw a GofastError that `matches` accepts.
func raises(
    _ name: String, _ matches: (GofastError) -> Bool, line: Int = #line,
    _ body: () async throws -> Void
) async throws {
    do {
        try await body()
    } catch let e as GofastError {
        try check(matches(e), "expected \(name), got \(e)", line: line)
        return
    }
    throw Failure(description: "line \(line): expected \(name)")
}

/// A node's events from its AsyncStream, waited for with a timeout.
final class Events: @unchecked Sendable {
    private var iterator: AsyncStream<Event>.Iterator?

    func start(_ node: Node) { iterator = node.events().makeAsyncIterator() }
    func stop() { iterator = nil }

    /// Waits for the first event `want` accepts (skipping others), at most `waitSeconds`.
    func waitFor(_ want: @escaping @Sendable (Event) -> Bool) async throws {
        let found = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                while let e = await self.iterator?.next() {
                    if want(e) { return true }
                }
                return false
            }
            group.addTask {
                try await Task.sleep(for: .seconds(Int64(waitSeconds)))
                return false
            }
            let first = try await group.next() ?? false
            group.cancelAll()
            return first
        }
        try check(found, "event not seen in time")
    }
}

func randomData(_ n: Int) -> Data {
    var g = SystemRandomNumberGenerator()
    var words = (0..<(n + 7) / 8).map { _ in g.next() }
    return Data(bytes: &words, count: n)
}

final class Suite: @unchecked Sendable {
    let base: URL
    var a: Node!
    var b: Node!
    let events = Events()

    init(base: URL) { self.base = base }
    func path(_ name: String) -> String { base.appendingPathComponent(name).path }
    func start(
        _ name: String, lowPower: Bool = false, bootstrap: [String] = [], listen: String? = nil
    ) async throws -> Node {
        try await startNode(
            config: NodeConfig(
                dataDir: path(name), listen: listen, bootstrap: bootstrap, lowPower: lowPower))
    }

    func setup() async throws {
        a = try await start("a")
        events.start(a)
        b = try await start("b")
    }

    func teardown() async throws {
        events.stop()
        try await b.stop()
        try await a.stop()
    }

    var tests: [(String, () async throws -> Void)] {
        [
            ("golden vectors", goldenVectors), ("identities", identities), ("connect and events (AsyncStream)", connect),
            ("a file from a to b", fileAToB), ("bytes from b to a", bytesBToA),
            ("a volume on two devices", aVolumeOnTwoDevices), ("pins", pins),
            ("a directory, and gc", directoryAndGc),
            ("suspend and resume", suspendResume), ("a low-power node", lowPowerNode),
            ("errors of input", errorsOfInput), ("errors of the network", errorsOfNetwork),
            ("error when stopped", errorWhenStopped), ("cancel a transfer", cancelTransfer),
        ]
    }

    func goldenVectors() async throws {
        // The project's golden file (GOFAST_GOLDEN): its texts through the binding's parsers.
        let url = URL(fileURLWithPath: ProcessInfo.processInfo.environment["GOFAST_GOLDEN"] ?? "")
        let golden = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
        let list = { (key: String) in golden?[key] as? [[String: Any]] ?? [] }
        for b in list("blocks") {
            let info = try parseUri(uri: "gofast:" + (b["ref_text"] as? String ?? ""))
            try check(info.rootId == b["id"] as? String && !info.dir)
        }
        for t in list("trees") {
            let text = t["root_text"] as? String ?? ""
            let info = try parseUri(uri: text + "/")
            try check(info.rootId == t["root_id"] as? String && info.dir && info.uri == "gofast:\(text)/")
        }
        for i in list("identities") {
            let text = i["text"] as? String ?? ""
            try check(try parsePeerId(text: text) == text)
        }
        let bad = list("invalid_peer_id_texts")
        try check(!bad.isEmpty && !list("trees").isEmpty && !list("identities").isEmpty)
        for b in bad {
            try await raises("InvalidInput", { if case .InvalidInput = $0 { true } else { false } }) {
                _ = try parsePeerId(text: b["text"] as? String ?? "")
            }
        }
    }

    func identities() async throws {
        try check(try a.peerId().hasPrefix("gfp1") && a.peerId() != b.peerId())
        try check(try a.listenAddress().hasPrefix("127.0.0.1:"))
        try check(try a.bootstrapAddress() == "\(try a.peerId())@\(try a.listenAddress())")
    }

    func connect() async throws {
        try check(try await b.addPeer(address: a.bootstrapAddress()) >= 1)
        let bId = try b.peerId()
        try await events.waitFor {
            if case .peerConnected(let peer, _) = $0 { return peer == bId }
            return false
        }
        let aId = try a.peerId()
        try check(try await b.peers().contains { $0.peer == aId })
    }

    func fileAToB() async throws {
        let data = randomData(5 * 1024 * 1024 + 123)
        try data.write(to: URL(fileURLWithPath: path("five.bin")))
        let added = try await a.add(path: path("five.bin"))
        try check(added.uri.hasPrefix("gofast:gfb1") && added.size == UInt64(data.count))
        let progress = Progressed()
        let fetched = try await b.fetch(uri: added.uri, dest: path("five-copy.bin")) {
            done, total in progress.note(done, total)
        }
        try check(fetched.size == UInt64(data.count) && fetched.blocks > 0)
        try check(try Data(contentsOf: URL(fileURLWithPath: path("five-copy.bin"))) == data)
        try check(progress.last?.1 == UInt64(data.count), "progress reported the total")
    }

    func bytesBToA() async throws {
        let data = randomData(3 * 1024 * 1024)
        let added = try await b.addBytes(label: "three", data: data)
        try check(added.announcedTo >= 1)
        try check(try await a.getBytes(uri: added.uri, label: "three-copy", maxSize: 16 << 20) == data)
        let size = UInt64(data.count)
        try await events.waitFor {
            if case .fetched(_, let s) = $0 { return s == size }
            return false
        }
    }

    func aVolumeOnTwoDevices() async throws {
        let home = try await a.createVolume(name: "home")
        try check(try await home.write(path: "/notes/todo.txt", data: Data("milk".utf8)) != nil)
        let cap = try await home.capability()
        try check(cap.hasPrefix("gfv1"))
        let joined = try await b.joinVolume(name: "home", capability: cap)
        _ = try await home.allow(device: try b.peerId())
        try check(try await home.write(path: "/notes/todo.txt", data: Data("milk, eggs".utf8)) != nil)
        // The write is in the DHT when it returns: a sync finds it.
        _ = try await joined.sync()
        try check(try await joined.read(path: "/notes/todo.txt", at: nil) == Data("milk, eggs".utf8))
        let items = try await joined.list(path: "/notes", at: nil)
        try check(items.map { $0.name } == ["todo.txt"] && !items[0].isDir)
        try check(try await joined.info().mayWrite)
        let log = try await home.log(limit: 10)
        try check(log.count == 3 && log[0].height == 3)
        try check(try await home.read(path: "/notes/todo.txt", at: log[1].id) == Data("milk".utf8))
        try await raises("NotFound", { if case .NotFound = $0 { true } else { false } }) {
            _ = try await joined.read(path: "/nothing", at: nil)
        }
        try await raises("InvalidInput", { if case .InvalidInput = $0 { true } else { false } }) {
            _ = try await self.b.joinVolume(name: "other", capability: "gfv1nonsense")
        }
        try check(try await a.volumes().map { $0.name } == ["home"])
    }

    func pins() async throws {
        let added = try await a.addBytes(label: "pinned", data: Data(repeating: 0x78, count: 1000))
        try check(try await a.pins().contains { $0.label == "pinned" && $0.uri == added.uri })
        try check(try await a.pin(label: "again", uri: added.uri) >= 1)
        try await a.unpin(label: "again")
        try await raises("NotFound", { if case .NotFound = $0 { true } else { false } }) {
            try await self.a.unpin(label: "again")
        }
        let stats = try await a.stats()
        try check(stats.contacts >= 1 && stats.permanentBlocks > 0 && stats.pins >= 2)
    }

    func directoryAndGc() async throws {
        let top = URL(fileURLWithPath: path("album"))
        try FileManager.default.createDirectory(
            at: top.appendingPathComponent("sub"), withIntermediateDirectories: true)
        let files = ["one.txt": Data(repeating: 1, count: 1000), "sub/two.bin": randomData(200_000)]
        for (name, data) in files { try data.write(to: top.appendingPathComponent(name)) }
        let added = try await a.add(path: top.path)
        try check(added.uri.hasSuffix("/") && (try parseUri(uri: added.uri)).dir)
        _ = try await b.fetch(uri: added.uri, dest: path("album-copy"))
        for (name, data) in files {
            let copy = URL(fileURLWithPath: path("album-copy")).appendingPathComponent(name)
            try check(try Data(contentsOf: copy) == data, "\(name) differs")
        }
        let before = try await b.stats().pins
        try await b.unpin(label: "album-copy/")
        try check(try await b.stats().pins == before - 1)
        _ = try await b.gc()
    }

    func suspendResume() async throws {
        try await a.suspend()
        try await events.waitFor { $0 == .suspended }
        let suspendedStats = try await a.stats()
        try check(try a.isSuspended() && suspendedStats.suspended)
        try await raises("Busy", { if case .Busy = $0 { true } else { false } }) {
            _ = try await self.a.addPeer(address: self.b.bootstrapAddress())
        }
        try await a.resume()
        try await events.waitFor { $0 == .resumed }
        try check(!(try a.isSuspended()))
        try check(try await a.addPeer(address: b.bootstrapAddress()) >= 1)
    }

    func lowPowerNode() async throws {
        let c = try await start("c", lowPower: true, bootstrap: [try a.bootstrapAddress()])
        _ = try await c.addPeer(address: a.bootstrapAddress())
        let data = Data(String(repeating: "low power", count: 1000).utf8)
        let added = try await a.addBytes(label: "for-c", data: data)
        let copy = try await c.getBytes(uri: added.uri, label: "copy", maxSize: 1 << 20)
        try await c.stop()
        try check(copy == data)
    }

    func errorsOfInput() async throws {
        try await raises("InvalidInput", { if case .InvalidInput = $0 { true } else { false } }) {
            _ = try await self.a.getBytes(uri: "gofast:nonsense", label: "x", maxSize: 10)
        }
        try await raises("InvalidInput", { if case .InvalidInput = $0 { true } else { false } }) {
            _ = try await self.start("bad", listen: "not an address")
        }
        try await raises("NotFound", { if case .NotFound = $0 { true } else { false } }) {
            _ = try await self.a.add(path: self.path("missing"))
        }
        let added = try await a.addBytes(label: "exists", data: Data(count: 100))
        _ = FileManager.default.createFile(atPath: path("taken.partial"), contents: nil)
        try await raises("AlreadyExists", { if case .AlreadyExists = $0 { true } else { false } }) {
            _ = try await self.a.fetch(uri: added.uri, dest: self.path("taken"))
        }
        try await raises("Corrupt", { if case .Corrupt = $0 { true } else { false } }) {
            _ = try await self.a.fetch(uri: added.uri + "/", dest: self.path("as-dir"))
        }
        _ = FileManager.default.createFile(atPath: path("a-file"), contents: Data("no".utf8))
        try await raises("Io", { if case .Io = $0 { true } else { false } }) {
            _ = try await self.start("a-file/node")
        }
    }

    func errorsOfNetwork() async throws {
        let gone = try await start("gone")
        let address = try gone.listenAddress()
        try await gone.stop()
        try await raises("Network", { if case .Network = $0 { true } else { false } }) {
            _ = try await self.a.addPeer(address: address)
        }
    }

    func errorWhenStopped() async throws {
        let d = try await start("d")
        try await d.stop()
        try await d.stop()
        try await raises("Stopped", { if case .Stopped = $0 { true } else { false } }) {
            _ = try await d.stats()
        }
        try await raises("Stopped", { if case .Stopped = $0 { true } else { false } }) {
            _ = try d.peerId()
        }
    }

    func cancelTransfer() async throws {
        try randomData(64 * 1024 * 1024).write(to: URL(fileURLWithPath: path("big.bin")))
        let transfer = try a.addFile(path: path("big.bin"), listener: nil)
        transfer.cancel()
        try await raises("Cancelled", { if case .Cancelled = $0 { true } else { false } }) {
            _ = try await transfer.wait()
        }
        try check(transfer.isFinished())
        // A Task cancelled while it awaits a transfer cancels the transfer.
        let node = a!
        let path = self.path("big.bin")
        let task = Task { try await node.add(path: path) }
        task.cancel()
        do {
            _ = try await task.value
            // The add may have finished before the cancel reached it; then it is pinned.
        } catch let e as GofastError {
            try check({ if case .Cancelled = e { true } else { false } }(), "got \(e)")
        }
    }
}

/// Progress calls, from a library thread.
final class Progressed: @unchecked Sendable {
    private let lock = NSLock()
    private var calls: [(UInt64, UInt64?)] = []
    func note(_ done: UInt64, _ total: UInt64?) { lock.withLock { calls.append((done, total)) } }
    var last: (UInt64, UInt64?)? { lock.withLock { calls.last } }
}

@main
struct Main {
    static func main() async {
        let base = FileManager.default.temporaryDirectory
            .appendingPathComponent("gofast-swift-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        let suite = Suite(base: base)
        var passed = 0
        var failed = 0
        do {
            try await suite.setup()
            for (name, test) in suite.tests {
                do {
                    try await test()
                    passed += 1
                    print("ok   \(name)")
                } catch {
                    failed += 1
                    print("FAIL \(name): \(error)")
                }
            }
            try await suite.teardown()
        } catch {
            failed += 1
            print("FAIL setup or teardown: \(error)")
        }
        try? FileManager.default.removeItem(at: base)
        print("\(passed) passed, \(failed) failed")
        exit(failed == 0 ? 0 : 1)
    }
}
