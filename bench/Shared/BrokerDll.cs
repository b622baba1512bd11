using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;

namespace Bench;

/// <summary>
/// The built <c>Broker.dll</c> in a process of its own, as production runs it (<c>dotnet Broker.dll</c>, its own
/// runtimeconfig: server GC), configured by environment variables only. Its CPU time and resident set are read
/// from /proc, so a benchmark's figures are the broker's alone, not the load client's.
/// </summary>
public sealed class BrokerDll : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private BrokerDll(Process process, int port) => (_process, Port) = (process, port);

    public int Port { get; }
    public string BaseUrl => $"http://127.0.0.1:{Port}";
    public int Pid => _process.Id;

    /// <summary>Starts it on a free loopback port and waits until <c>/readyz</c> answers 200.</summary>
    public static async Task<BrokerDll> StartAsync(IReadOnlyDictionary<string, string> environment)
    {
        var port = LocalPostgres.FreePort();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Broker.dll"));
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        var broker = new BrokerDll(Process.Start(start)!, port);
        broker._process.OutputDataReceived += (_, e) => broker.Keep(e.Data);
        broker._process.ErrorDataReceived += (_, e) => broker.Keep(e.Data);
        broker._process.BeginOutputReadLine();
        broker._process.BeginErrorReadLine();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        for (var waited = Stopwatch.StartNew(); ; await Task.Delay(200))
        {
            if (broker._process.HasExited || waited.Elapsed > TimeSpan.FromMinutes(3))
            {
                throw new InvalidOperationException($"Broker.dll did not become ready:\n{broker.Output}");
            }
            try
            {
                if ((await http.GetAsync($"{broker.BaseUrl}/readyz")).StatusCode == HttpStatusCode.OK)
                {
                    return broker;
                }
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
        }
    }

    /// <summary>
    /// The production settings of one replica minus Tesla (Quartz off: nothing is polled, nothing is configured), so what it does
    /// is serve /metrics from what is in Postgres and, given Telemetry settings, ingest the stream.
    /// </summary>
    public static Dictionary<string, string> NoTeslaEnvironment(string connectionString, string operatorToken, int cacheSeconds) => new()
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
        ["ConnectionStrings__Broker"] = connectionString, ["Jobs__Enabled"] = "false", ["Operator__Token"] = operatorToken,
        ["Vault__Keys__0__Id"] = "bench-1", ["Vault__Keys__0__Key"] = Convert.ToBase64String(new byte[32].Select((_, i) => (byte)(i + 1)).ToArray()),
        ["Tesla__ClientId"] = "bench", ["Tesla__ClientSecret"] = "bench",
        ["Metrics__CacheSeconds"] = cacheSeconds.ToString(CultureInfo.InvariantCulture),
        ["Logging__LogLevel__Default"] = "Warning",
    };

    public string Output { get { lock (_output) return _output.ToString(); } }

    /// <summary>User + system CPU the broker has used so far.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    /// <summary>Bytes of a /proc/PID/status field (VmRSS: resident now; VmHWM: the peak).</summary>
    public long Status(string field) =>
        long.Parse(File.ReadLines($"/proc/{Pid}/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;

    /// <summary>Linux: 5 written to clear_refs resets VmHWM to the current resident set.</summary>
    public void ResetPeakResidentSet() => File.WriteAllText($"/proc/{Pid}/clear_refs", "5");

    private void Keep(string? line)
    {
        if (line is not null)
        {
            lock (_output) _output.AppendLine(line);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            using (Process.Start("kill", ["-TERM", Pid.ToString(CultureInfo.InvariantCulture)])) { }
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await _process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        _process.Dispose();
    }
}
