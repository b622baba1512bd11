using System.Diagnostics;
using System.Globalization;

namespace TelemetryIngest;

/// <summary>The plain summary table on stdout: one column per phase, then the broker's and mosquitto's loss counters.</summary>
internal static class Report
{
    public sealed record Phase(string Name, double Target, Snapshot Start, Snapshot End, (LatencyProbe.Latency Metrics, LatencyProbe.Latency Database) Latency,
        long Rss, long PeakRss, long Unstored, long PublishFailures);

    public static void Write(int vehicles, int probes, int cacheSeconds, int signalsPerDay, int activePercent, int seconds, int warmup,
        List<Phase> phases, string exposition, Dictionary<string, string> sys, string mosquittoLog)
    {
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv, $"TelemetryIngest: {vehicles:N0} streaming vehicles + {probes} probes, Metrics:CacheSeconds {cacheSeconds}, "
            + $"{signalsPerDay:N0} signals per day-average car, peak: {activePercent} % of cars driving or charging; {warmup} s warm-up, {seconds} s measured per phase"));
        Console.WriteLine("| | " + string.Join(" | ", phases.Select(p => p.Name)) + " |");
        Console.WriteLine("|---|" + string.Concat(phases.Select(_ => "---|")));
        void Row(string name, Func<Phase, string> cell) => Console.WriteLine($"| {name} | " + string.Join(" | ", phases.Select(cell)) + " |");
        static double Seconds(Phase p) => Stopwatch.GetElapsedTime(p.Start.At, p.End.At).TotalSeconds;
        static string Mib(double bytes) => (bytes / 1024 / 1024).ToString("F1", CultureInfo.InvariantCulture);
        static string Lat(LatencyProbe.Latency l) => string.Create(CultureInfo.InvariantCulture,
            $"{l.P50:F0} / {l.P95:F0} / **{l.P99:F0}** / {l.Max:F0} ms (n {l.Count}, unseen {l.Unseen})");
        string PerDay(Phase p, Func<Snapshot, double> f) => Mib((f(p.End) - f(p.Start)) / Seconds(p) * 86_400);

        Row("signals asked for / published / stored, per s", p => string.Create(inv,
            $"{p.Target:F0} / {(p.End.Published - p.Start.Published) / Seconds(p):F0} / **{(p.End.Stored - p.Start.Stored) / Seconds(p):F0}**"));
        Row("published but not stored: at window end / 2 min after the load stopped", p => string.Create(inv,
            $"{p.End.Published - p.End.Stored:N0} / {p.Unstored:N0}"));
        Row("signal → tenant /metrics: p50 / p95 / p99 / max", p => Lat(p.Latency.Metrics));
        Row("signal → Postgres row: p50 / p95 / p99 / max", p => Lat(p.Latency.Database));
        Row("CPU, % of one core: broker / mosquitto / Postgres", p => string.Create(inv,
            $"**{Pct(p, s => s.BrokerCpu):F1}** / {Pct(p, s => s.MosquittoCpu):F1} / {Pct(p, s => s.PostgresCpu):F1}"));
        Row("broker resident set: end / peak in window (MiB)", p => $"{Mib(p.Rss)} / {Mib(p.PeakRss)}");
        Row("database size: end (MiB) / growth in window", p => $"{Mib(p.End.DatabaseBytes)} / {Mib(p.End.DatabaseBytes - p.Start.DatabaseBytes)} MiB");
        Row("**database growth per day** at this rate / WAL per day (MiB)", p => $"**{PerDay(p, s => s.DatabaseBytes)}** / {PerDay(p, s => s.WalBytes)}");
        Row("largest tables at end, MiB (growth per day)", p => string.Join("; ", p.End.Tables.Select(t =>
            $"{t.Key} {Mib(t.Value)} ({PerDay(p, s => s.Tables.GetValueOrDefault(t.Key))})")));
        Row("publishes refused or failed (bench side)", p => p.PublishFailures.ToString(inv));

        Console.WriteLine();
        Console.WriteLine("Broker counters at the end (operator /metrics):");
        foreach (var line in exposition.Split('\n').Where(l => l.StartsWith("tesla_broker_telemetry_", StringComparison.Ordinal)))
        {
            Console.WriteLine("    " + line);
        }
        lock (sys)
        {
            Console.WriteLine("mosquitto $SYS: " + string.Join(", ", sys.Where(s => s.Key.Contains("dropped", StringComparison.Ordinal)
                || s.Key.EndsWith("store/messages/count", StringComparison.Ordinal) || s.Key.EndsWith("messages/received", StringComparison.Ordinal)
                || s.Key.EndsWith("messages/sent", StringComparison.Ordinal)).OrderBy(s => s.Key).Select(s => $"{s.Key[12..]} {s.Value}")));
        }
        var warnings = mosquittoLog.Split('\n').Where(l => l.Length > 0).ToList();
        Console.WriteLine($"mosquitto log: {warnings.Count} warning/error lines" + (warnings.Count > 0 ? ", last: " + warnings[^1] : ""));
    }

    private static double Pct(Phase p, Func<Snapshot, double> cpu) =>
        (cpu(p.End) - cpu(p.Start)) / Stopwatch.GetElapsedTime(p.Start.At, p.End.At).TotalSeconds * 100;
}
