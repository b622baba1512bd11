using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Broker.Tests.Infrastructure;

/// <summary>What <c>/api/v1/query</c> answered: status, result type, how many series (or 1 for a scalar), and the error if any.</summary>
public sealed record PromQueryResult(string Status, string ResultType, int Count, string? Error, string Body)
{
    public bool HasData => Status == "success" && Count > 0;

    /// <summary>The series of an instant vector answer: each one's labels and value.</summary>
    public List<PromSample> Samples()
    {
        using var json = JsonDocument.Parse(Body);
        return json.RootElement.GetProperty("data").GetProperty("result").EnumerateArray().Select(r => new PromSample(
            r.GetProperty("metric").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? ""),
            double.Parse(r.GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture))).ToList();
    }
}

/// <summary>One series of an instant vector: its labels and its value.</summary>
public sealed record PromSample(Dictionary<string, string> Labels, double Value);

/// <summary>
/// A real Prometheus server (Debian's package, see <see cref="PrometheusTools"/>) on a loopback port with
/// the configuration the test gives it, and its HTTP query API.
/// </summary>
public sealed class PrometheusHost(DirectoryInfo dir, int port) : IAsyncDisposable
{
    private readonly StringBuilder _log = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private Process? _process;

    public string ListenAddress { get; } = $"127.0.0.1:{port}";
    public string Url => $"http://{ListenAddress}";

    /// <summary>What prometheus printed (its log), for failure messages.</summary>
    public string Log { get { lock (_log) return _log.ToString(); } }

    /// <summary>Starts it with <paramref name="config"/> as prometheus.yml and <paramref name="files"/> beside it (rule files).</summary>
    public void Start(string config, params (string Name, string Text)[] files)
    {
        var path = Path.Combine(dir.FullName, "prometheus.yml");
        File.WriteAllText(path, config);
        foreach (var (name, text) in files)
        {
            File.WriteAllText(Path.Combine(dir.FullName, name), text);
        }
        var start = new ProcessStartInfo(PrometheusTools.Locate("prometheus")) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { $"--config.file={path}", $"--storage.tsdb.path={Path.Combine(dir.FullName, "data")}", $"--web.listen-address={ListenAddress}" })
        {
            start.ArgumentList.Add(arg);
        }
        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    private void Append(string? line)
    {
        if (line is not null) lock (_log) _log.AppendLine(line);
    }

    public async Task<PromQueryResult> QueryAsync(string promql, CancellationToken ct)
    {
        if (_process is null || _process.HasExited)
        {
            Assert.Fail($"prometheus is not running:\n{Log}");
        }
        using var response = await _http.GetAsync($"{Url}/api/v1/query?query={Uri.EscapeDataString(promql)}", ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        if (response.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable)
        {
            // Still starting (a plain-text "Service Unavailable"): callers wait for it like for a closed port.
            throw new HttpRequestException($"prometheus is not ready yet: {body}", null, response.StatusCode);
        }
        using var json = JsonDocument.Parse(body);
        var root = json.RootElement;
        var status = root.GetProperty("status").GetString() ?? "";
        var error = root.TryGetProperty("error", out var e) ? e.GetString() : null;
        if (status != "success")
        {
            return new(status, "", 0, error, body);
        }
        var data = root.GetProperty("data");
        var type = data.GetProperty("resultType").GetString() ?? "";
        var count = type is "vector" or "matrix" ? data.GetProperty("result").GetArrayLength() : 1; // scalar/string: one value
        return new(status, type, count, error, body);
    }

    /// <summary>The <c>data</c> of an API answer such as <c>/api/v1/rules</c>.</summary>
    public async Task<JsonElement> DataAsync(string pathAndQuery, CancellationToken ct)
    {
        using var json = JsonDocument.Parse(await _http.GetStringAsync($"{Url}{pathAndQuery}", ct));
        return json.RootElement.GetProperty("data").Clone();
    }

    /// <summary><c>/api/v1/label/{label}/values?match[]=…</c>: what Grafana's <c>label_values(selector, label)</c> offers.</summary>
    public async Task<List<string>> LabelValuesAsync(string label, string selector, CancellationToken ct)
    {
        var body = await _http.GetStringAsync($"{Url}/api/v1/label/{label}/values?match[]={Uri.EscapeDataString(selector)}", ct);
        using var json = JsonDocument.Parse(body);
        return json.RootElement.GetProperty("data").EnumerateArray().Select(v => v.GetString()!).ToList();
    }

    /// <summary>Polls until every scrape target reports up (the first scrape lands a few seconds after start).</summary>
    public async Task WaitForTargetsUpAsync(string job, int count, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        var last = "";
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            try
            {
                var up = await QueryAsync($"up{{job=\"{job}\"}} == 1", ct);
                if (up.Count == count)
                {
                    return;
                }
                last = up.Body;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            await Task.Delay(250, ct);
        }
        Assert.Fail($"Prometheus did not scrape {count} '{job}' targets within 30 s (last answer: {last}). It said:\n{Log}");
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None);
        }
        _process?.Dispose();
        _http.Dispose();
    }
}
