using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace MetricsScale;

/// <summary>
/// Debian's wrk (<c>apt-get install wrk</c>): closed-loop connections, each sending the next request as soon
/// as the last answer is read, for a fixed time. Several keys are taken in turn, one per request (a Lua script).
/// </summary>
internal static partial class Wrk
{
    public sealed record Result(int Connections, double Seconds, long Requests, long Errors, double RequestsPerSecond, double P50, double P90, double P99);

    public static async Task<Result> RunAsync(string url, IReadOnlyList<string> keys, int connections, int seconds, bool gzip = false)
    {
        var script = Path.GetTempFileName();
        var quoted = string.Join(", ", keys.Select(k => $"\"Bearer {k}\""));
        await File.WriteAllTextAsync(script, $$"""
            local keys = { {{quoted}} }
            local n = 0
            request = function()
              n = n + 1
              local headers = { ["Authorization"] = keys[(n % #keys) + 1] }
              {{(gzip ? "headers[\"Accept-Encoding\"] = \"gzip\"" : "")}}
              return wrk.format("GET", nil, headers)
            end
            """);
        try
        {
            var start = new ProcessStartInfo("wrk") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { "-t2", $"-c{connections}", $"-d{seconds}s", "--timeout", "30s", "--latency", "-s", script, url })
            {
                start.ArgumentList.Add(arg);
            }
            using var wrk = Process.Start(start) ?? throw new InvalidOperationException("wrk did not start (apt-get install wrk)");
            var output = await wrk.StandardOutput.ReadToEndAsync();
            await wrk.WaitForExitAsync();
            if (wrk.ExitCode != 0)
            {
                throw new InvalidOperationException($"wrk exited {wrk.ExitCode}: {output}{await wrk.StandardError.ReadToEndAsync()}");
            }
            var requests = long.Parse(RequestsLine().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
            var errors = NonSuccessLine().Match(output) is { Success: true } m ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
            errors += SocketErrorsLine().Match(output) is { Success: true } s
                ? s.Groups.Values.Skip(1).Sum(g => long.Parse(g.Value, CultureInfo.InvariantCulture)) : 0;
            return new Result(connections, seconds, requests, errors,
                double.Parse(RateLine().Match(output).Groups[1].Value, CultureInfo.InvariantCulture),
                Percentile(output, "50"), Percentile(output, "90"), Percentile(output, "99"));
        }
        finally
        {
            File.Delete(script);
        }
    }

    /// <summary>A "Latency Distribution" line (<c>99%   18.52ms</c>) in milliseconds.</summary>
    private static double Percentile(string output, string percent)
    {
        var match = Regex.Match(output, $@"^\s+{percent}%\s+([0-9.]+)(us|ms|s)\s*$", RegexOptions.Multiline);
        var value = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        return match.Groups[2].Value switch { "us" => value / 1000, "s" => value * 1000, _ => value };
    }

    [GeneratedRegex(@"(\d+) requests in")]
    private static partial Regex RequestsLine();

    [GeneratedRegex(@"Non-2xx or 3xx responses: (\d+)")]
    private static partial Regex NonSuccessLine();

    [GeneratedRegex(@"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")]
    private static partial Regex SocketErrorsLine();

    [GeneratedRegex(@"Requests/sec:\s+([0-9.]+)")]
    private static partial Regex RateLine();
}
