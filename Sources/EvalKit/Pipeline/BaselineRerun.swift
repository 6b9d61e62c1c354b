import Foundation

/// Where the baseline's experiment comes from when `evalkit check` evaluates it again on this machine.
public enum BaselineSource: Sendable, Equatable {
    /// An experiment file as it is now (for example main's, checked out beside this one).
    case config(path: String)
    /// The experiment as a git commit holds it: `configPath` (default: the run's config, at the same
    /// place in the repository) in that commit's tree, with that commit's prompts, data and adapters.
    case gitReference(String, configPath: String?)
}

/// Why the baseline's experiment could not be evaluated again.
public enum BaselineRerunError: Error, CustomStringConvertible, Sendable {
    case git(String)
    case preparation(PreparationError)
    case run(CompareError)

    public var description: String {
        switch self {
        case .git(let why): return "cannot read the baseline's experiment from git: \(why)"
        case .preparation(let error): return "the baseline's experiment cannot run: \(error)"
        case .run(let error): return "the baseline's experiment did not run: \(error)"
        }
    }
}

/// `evalkit check --against-config/--against-ref`: evaluates the baseline's experiment here, in the
/// same job as the run being checked, so both are measured on one machine with one server build. The
/// response cache is shared, so a candidate whose requests did not change gets the run's own answers.
public enum BaselineRerun {
    /// Runs the baseline's experiment over the same test examples (and `--only` models) as `current`
    /// into `outDirectory`, sharing `cacheDirectory` (default: the run's experiment's); returns that run folder's path.
    public static func run(current: RunFolder, source: BaselineSource, outDirectory: String, cacheDirectory: String? = nil, stop: StopSignal = StopSignal(),
                           progress: @escaping @Sendable (ProgressSnapshot) -> Void = { _ in }) async throws(BaselineRerunError) -> String {
        var checkout: GitCheckout?
        defer { checkout?.remove() }
        let configPath: String
        let command: String
        switch source {
        case .config(let path):
            configPath = path
            command = "evalkit check --against-config \(path)"
        case let .gitReference(reference, path):
            let tree = try GitCheckout.extract(reference, near: current.experiment.baseDirectory)
            checkout = tree
            let relative: String
            if let path { relative = path } else { relative = try tree.relativePath(of: current.experiment.configPath) }
            configPath = tree.directory + "/" + relative
            command = "evalkit check --against-ref \(reference)"
        }
        var prepared: PreparedExperiment
        do { prepared = try Preparation.prepare(configPath: configPath) } catch { throw .preparation(error) }
        if let only = current.manifest.only {
            let known = Set(prepared.experiment.models.map(\.id))
            if let restricted = try? prepared.restricted(toModels: only.filter(known.contains)) { prepared = restricted }
        }
        var options = CompareOptions()
        options.outDirectory = outDirectory
        options.limit = current.manifest.limit
        options.cacheMode = .use
        // The gate compares answers, latency and cost: a dedicated cost at this volume does not need a second
        // probe of machines the run already measured (and the probe is the slow part of a cached re-run).
        options.probeCapacity = false
        options.cacheDirectory = cacheDirectory ?? current.experiment.resolve(".evalkit/cache")
        options.reproduceCommand = command
        options.stop = stop
        do { _ = try await CompareRun.run(prepared, options: options, progress: progress) } catch { throw .run(error) }
        return outDirectory
    }
}

/// A commit's tree written out to a temporary folder. Files git does not track (a `.venv` with the
/// model server, downloaded weights) are linked in from the working tree, so the experiment's
/// commands and paths work there as they do in the repository.
struct GitCheckout {
    var repositoryRoot: String
    var directory: String
    var scratch: String

    static func extract(_ reference: String, near directory: String) throws(BaselineRerunError) -> GitCheckout {
        let start = directory.isEmpty ? FileManager.default.currentDirectoryPath : directory
        let root = try git(["rev-parse", "--show-toplevel"], in: start).trimmingCharacters(in: .whitespacesAndNewlines)
        let commit = try git(["rev-parse", "--verify", "--quiet", reference + "^{commit}"], in: root,
                             failure: "\"\(reference)\" is not a commit of the repository at \(root)").trimmingCharacters(in: .whitespacesAndNewlines)
        let scratch = NSTemporaryDirectory() + "evalkit-ref-" + UUID().uuidString
        let tree = scratch + "/tree"
        do { try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true) } catch {
            throw .git("cannot create \(tree): \(error.localizedDescription)")
        }
        let checkout = GitCheckout(repositoryRoot: root, directory: tree, scratch: scratch)
        do {
            _ = try git(["archive", "--format=tar", "-o", scratch + "/tree.tar", commit], in: root)
            _ = try run(["tar", "-xf", scratch + "/tree.tar", "-C", tree], in: root, what: "tar")
            try? FileManager.default.removeItem(atPath: scratch + "/tree.tar")
            let fm = FileManager.default
            for entry in (try? fm.contentsOfDirectory(atPath: root)) ?? [] where entry != ".git" && !fm.fileExists(atPath: tree + "/" + entry) {
                try? fm.createSymbolicLink(atPath: tree + "/" + entry, withDestinationPath: root + "/" + entry)
            }
        } catch {
            checkout.remove()
            throw error
        }
        return checkout
    }

    /// Where `path` (absolute, or relative to the current folder) lies inside the repository.
    func relativePath(of path: String) throws(BaselineRerunError) -> String {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        guard let real = FileDigest.realPath(absolute), let rootReal = FileDigest.realPath(repositoryRoot), real.hasPrefix(rootReal + "/") else {
            throw .git("the run's config \(path) is not inside the repository at \(repositoryRoot); name it: --against-ref REF:PATH")
        }
        return String(real.dropFirst(rootReal.count + 1))
    }

    func remove() { try? FileManager.default.removeItem(atPath: scratch) }

    static func git(_ arguments: [String], in directory: String, failure: String? = nil) throws(BaselineRerunError) -> String {
        try run(["git", "-C", directory] + arguments, in: directory, what: "git", failure: failure)
    }

    static func run(_ command: [String], in directory: String, what: String, failure: String? = nil) throws(BaselineRerunError) -> String {
        let outcome: Subprocess.Outcome
        do { outcome = try Subprocess.run(command, in: directory, timeoutSeconds: 300, limit: 1 << 20) } catch { throw .git(error.description) }
        guard outcome.succeeded else {
            let said = outcome.errorOutput.trimmingCharacters(in: .whitespacesAndNewlines)
            throw .git(failure ?? "\(command.joined(separator: " ")) failed" + (said.isEmpty ? "" : ": " + said))
        }
        return outcome.output
    }
}
