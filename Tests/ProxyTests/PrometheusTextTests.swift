import Testing

@testable import Proxy

@Suite struct PrometheusTextTests {
    @Test func familiesSamplesAndEscapedLabels() {
        var out = PrometheusText()
        out.family("x_total", .counter, help: "Things.")
        out.sample("x_total", 3)
        out.sample("x_total", ["backend": "a\"b\\c\nd", "state": "up"], 1)
        #expect(
            out.text
                == "# HELP x_total Things.\n# TYPE x_total counter\nx_total 3\n"
                + "x_total{backend=\"a\\\"b\\\\c\\nd\",state=\"up\"} 1\n")
    }

    @Test func histogramsAreCumulativeWithInfSumAndCount() {
        var out = PrometheusText()
        out.histogram("d_seconds", ["backend": "a"], bounds: [0.1, 1], counts: [2, 0, 5], sum: 7.5)
        #expect(
            out.text
                == "d_seconds_bucket{backend=\"a\",le=\"0.1\"} 2\nd_seconds_bucket{backend=\"a\",le=\"1.0\"} 2\n"
                + "d_seconds_bucket{backend=\"a\",le=\"+Inf\"} 7\nd_seconds_sum{backend=\"a\"} 7.5\nd_seconds_count{backend=\"a\"} 7\n")
        var bare = PrometheusText()
        bare.histogram("d_seconds", bounds: [1], counts: [1, 1], sum: 2)
        #expect(bare.text.hasSuffix("d_seconds_sum 2.0\nd_seconds_count 2\n"))
    }
}
