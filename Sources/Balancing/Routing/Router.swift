import Foundation

/// L7 routing rules: the first rule that matches names the pool; otherwise the active pool.
///
/// Rules are tried in configuration order, like nginx `location` prefixes listed longest first
/// or HAProxy `use_backend … if …` lines; the matches are Envoy's route matches (`prefix`,
/// `path`, `safe_regex`, `headers`, and cookies and methods through headers) and HAProxy's ACLs
/// (`path_beg`, `path`, `path_reg`, `hdr`, `req.cook`, `method`).
public struct Router: Sendable, Equatable {
    public enum Match: Equatable, Sendable {
        /// The path starts with this prefix (`/api/`).
        case pathPrefix(String)
        /// The header is present with exactly this value (`X-Beta: true`), name case-insensitive.
        case header(name: String, value: String)
        /// The path is exactly this (`/login`; nginx `location = /login`).
        case path(String)
        /// The whole path matches this regular expression (Envoy `safe_regex`, a full match).
        case pathRegex(PathPattern)
        /// The cookie is present with exactly this value (HAProxy `req.cook(NAME) -m str VALUE`).
        case cookie(name: String, value: String)
        /// The method is this one (`POST`), exactly.
        case method(String)
        /// Every request, shared between pools by weight on a key (nginx `split_clients`; Envoy
        /// `weighted_clusters`, which draws per request instead): the key's stable hash modulo
        /// the total weight picks the part, so one client (or cookie, or header value) always
        /// lands in the same pool and the shares over many keys are the weights.
        case split(key: HashKey, parts: [SplitPart])
    }

    public struct SplitPart: Equatable, Sendable {
        public var pool: String
        public var weight: Int
        public init(pool: String, weight: Int) {
            self.pool = pool
            self.weight = weight
        }
    }

    /// A compiled regular expression, compared by its text.
    public struct PathPattern: Sendable, Equatable {
        public let text: String
        nonisolated(unsafe) let regex: NSRegularExpression

        /// nil when `text` is not a valid expression.
        public init?(_ text: String) {
            guard let regex = try? NSRegularExpression(pattern: "^(?:" + text + ")$") else { return nil }
            self.text = text
            self.regex = regex
        }

        func matches(_ path: String) -> Bool {
            regex.firstMatch(in: path, range: NSRange(path.startIndex..., in: path)) != nil
        }

        public static func == (l: PathPattern, r: PathPattern) -> Bool { l.text == r.text }
    }

    public struct Rule: Equatable, Sendable {
        public var match: Match
        /// The pool a match sends to (a split's first part; `pools` lists them all).
        public var pool: String
        public init(match: Match, pool: String) {
            self.match = match
            self.pool = pool
        }

        /// Every pool the rule can send to.
        public var pools: [String] {
            if case .split(_, let parts) = match { return parts.map(\.pool) }
            return [pool]
        }
    }

    public var rules: [Rule]

    public init(rules: [Rule] = []) { self.rules = rules }

    /// The pool for `request`, or nil to mean "the active pool".
    public func pool(for request: RequestContext) -> String? {
        for rule in rules {
            switch rule.match {
            case .pathPrefix(let prefix) where request.path.hasPrefix(prefix):
                return rule.pool
            case .header(let name, let value) where request.header(name) == value:
                return rule.pool
            case .path(let path) where request.path == path:
                return rule.pool
            case .pathRegex(let pattern) where pattern.matches(request.path):
                return rule.pool
            case .cookie(let name, let value) where request.cookie(name) == value:
                return rule.pool
            case .method(let method) where request.method == method:
                return rule.pool
            case .split(let key, let parts):
                let total = UInt64(parts.reduce(0) { $0 + $1.weight })
                var position = (key.hash(of: request) ?? 0) % total
                for part in parts {
                    if position < UInt64(part.weight) { return part.pool }
                    position -= UInt64(part.weight)
                }
                return parts.last?.pool
            default:
                continue
            }
        }
        return nil
    }
}
