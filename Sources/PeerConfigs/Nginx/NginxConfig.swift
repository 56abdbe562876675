/// nginx's configuration syntax (`ngx_conf_file.c`): directives of words ended by `;`, blocks in
/// `{ }`, `#` comments to the end of the line, words quoted with `"` or `'` (backslash escapes
/// the next character). The tree keeps each directive's line for the import's notes.
struct NginxDirective: Equatable {
    var name: String
    var args: [String]
    var line: Int
    /// nil for a simple directive, the block's directives for a block.
    var block: [NginxDirective]?

    /// The directive as written, for notes: `server 10.0.0.1 weight=3`.
    var text: String { ([name] + args).joined(separator: " ") }
}

struct NginxSyntaxError: Error, CustomStringConvertible {
    var line: Int
    var message: String
    var description: String { "line \(line): \(message)" }
}

enum NginxConfig {
    static func parse(_ text: String) throws(NginxSyntaxError) -> [NginxDirective] {
        var tokens = Tokens(Array(text.unicodeScalars))
        let (directives, closed) = try block(&tokens, depth: 0)
        if let closed { throw NginxSyntaxError(line: closed, message: "unexpected \"}\"") }
        return directives
    }

    /// Directives up to the end of the text, or a `}`, whose line is returned.
    private static func block(_ tokens: inout Tokens, depth: Int) throws(NginxSyntaxError) -> ([NginxDirective], Int?) {
        guard depth < 64 else { throw NginxSyntaxError(line: tokens.line, message: "blocks nested too deep") }
        var directives: [NginxDirective] = []
        var words: [String] = []
        var line = 0
        while let token = try tokens.next() {
            switch token.kind {
            case .word(let word):
                if words.isEmpty { line = token.line }
                words.append(word)
            case .semicolon:
                guard let name = words.first else { throw NginxSyntaxError(line: token.line, message: "unexpected \";\"") }
                directives.append(NginxDirective(name: name, args: Array(words.dropFirst()), line: line, block: nil))
                words = []
            case .open:
                guard let name = words.first else { throw NginxSyntaxError(line: token.line, message: "unexpected \"{\"") }
                let (inner, closed) = try block(&tokens, depth: depth + 1)
                guard closed != nil else { throw NginxSyntaxError(line: line, message: "\"\(name)\" block is not closed with \"}\"") }
                directives.append(NginxDirective(name: name, args: Array(words.dropFirst()), line: line, block: inner))
                words = []
            case .close:
                if let name = words.first { throw NginxSyntaxError(line: line, message: "directive \"\(name)\" is not terminated by \";\"") }
                guard depth > 0 else { return (directives, token.line) }
                return (directives, token.line)
            }
        }
        if let name = words.first { throw NginxSyntaxError(line: line, message: "directive \"\(name)\" is not terminated by \";\"") }
        return (directives, nil)
    }

    struct Token {
        enum Kind { case word(String), semicolon, open, close }
        var kind: Kind
        var line: Int
    }

    struct Tokens {
        let text: [Unicode.Scalar]
        var i = 0
        var line = 1

        init(_ text: [Unicode.Scalar]) { self.text = text }

        mutating func next() throws(NginxSyntaxError) -> Token? {
            while i < text.count {
                let c = text[i]
                if c == "\n" {
                    line += 1
                    i += 1
                } else if c == " " || c == "\t" || c == "\r" {
                    i += 1
                } else if c == "#" {
                    while i < text.count, text[i] != "\n" { i += 1 }
                } else {
                    break
                }
            }
            guard i < text.count else { return nil }
            let start = line
            switch text[i] {
            case ";":
                i += 1
                return Token(kind: .semicolon, line: start)
            case "{":
                i += 1
                return Token(kind: .open, line: start)
            case "}":
                i += 1
                return Token(kind: .close, line: start)
            case "\"", "'":
                let quote = text[i]
                i += 1
                var word = String.UnicodeScalarView()
                while i < text.count, text[i] != quote {
                    if text[i] == "\\", i + 1 < text.count { i += 1 }
                    if text[i] == "\n" { line += 1 }
                    word.append(text[i])
                    i += 1
                }
                guard i < text.count else { throw NginxSyntaxError(line: start, message: "unterminated quoted string") }
                i += 1
                return Token(kind: .word(String(word)), line: start)
            default:
                var word = String.UnicodeScalarView()
                while i < text.count {
                    let c = text[i]
                    if c == " " || c == "\t" || c == "\r" || c == "\n" || c == ";" || c == "{" || c == "}" { break }
                    // `${var}` keeps its braces inside a word.
                    if c == "$", i + 1 < text.count, text[i + 1] == "{" {
                        while i < text.count, text[i] != "}", text[i] != "\n", text[i] != " ", text[i] != "\t" {
                            word.append(text[i])
                            i += 1
                        }
                        if i < text.count, text[i] == "}" {
                            word.append(text[i])
                            i += 1
                        }
                        continue
                    }
                    if c == "\\", i + 1 < text.count { i += 1 }
                    word.append(text[i])
                    i += 1
                }
                return Token(kind: .word(String(word)), line: start)
            }
        }
    }
}
