/// L7 routing rules: the first rule that matches names the pool; otherwise the active pool.
///
/// Rules are tried in configuration order, like nginx `location` prefixes listed longest first
/// or HAProxy `use_backend … if …` lines.
public struct Router: Sendable, Equatable {
    public enum Match: Equatable, Sendable {
        /// The path starts with this prefix (`/api/`).
        case pathPrefix(String)
        /// The header is present with exactly this value (`X-Beta: true`), name case-insensitive.
        case header(name: String, value: String)
    }

    public struct Rule: Equatable, Sendable {
        public var match: Match
        public var pool: String
        public init(match: Match, pool: String) {
            self.match = match
            self.pool = pool
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
            default:
                continue
            }
        }
        return nil
    }
}
