using System.Diagnostics;
using System.Net;
using System.Text;

namespace Broker.Tests.Infrastructure;

/// <summary>
/// The built Broker.dll in a process of its own (as <c>dotnet Broker.dll</c> runs in production), so that
/// <see cref="Kill"/> is a real crash: no graceful shutdown, no finally blocks, open transactions cut by Postgres.
/// Each start listens on the same loopback port; everything it writes to stdout and stderr is kept across starts.
/// </summary>
public sealed class BrokerProcess(Dictionary<string, string> environment) : IAsyncDisposable
{
    private readonly StringBuilder _output = new();
    private Process? _process;

    public int Port { get; } = PostgresServer.FreePort();
    public string BaseUrl => $"http://127.0.0.1:{Port}";
    public int Starts { get; private set; }

    /// <summary>Every line written by every start so far.</summary>
    public string Output { get { lock (_output) return _output.ToString(); } }

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The settings of a production replica talking to the simulator on its real loopback ports.</summary>
    public static Dictionary<string, string> SettingsFor(string connectionString, SimulatorHost simulator) => new()
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
        ["ConnectionStrings__Broker"] = connectionString,
        ["Vault__Keys__0__Id"] = "test-1",
        ["Vault__Keys__0__Key"] = BrokerApplication.VaultKey,
        ["Tesla__ClientId"] = SimulatorHost.ClientId,
        ["Tesla__ClientSecret"] = SimulatorHost.ClientSecret,
        ["Tesla__AuthBaseUrl"] = simulator.AuthBaseUrl,
        ["Tesla__TokenEndpoint"] = simulator.AuthBaseUrl + "/oauth2/v3/token",
        ["Tesla__Regions__na"] = simulator.NaBaseUrl,
        ["Tesla__Regions__eu"] = simulator.EuBaseUrl,
        ["Tesla__Regions__cn"] = "http://fleet-cn.test",
        ["Tesla__AllowHttp"] = "true",
        ["Operator__Token"] = BrokerApplication.OperatorToken,
        ["Logging__LogLevel__Default"] = "Information",
        ["Logging__LogLevel__Broker"] = "Debug",
        ["Logging__LogLevel__Microsoft.EntityFrameworkCore"] = "Warning", // every SQL command at Information drowns the rest
        ["Logging__Console__FormatterName"] = "simple",
    };

    /// <summary>Starts the process and waits until <c>/readyz</c> answers 200.</summary>
    public async Task StartAsync(CancellationToken ct, TimeSpan? readyWithin = null)
    {
        if (IsRunning)
        {
            throw new InvalidOperationException("The broker process is already running.");
        }
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
            // The content root is where appsettings.json is read: the test output folder holds the simulator's (both projects
            // copy one there), so the broker runs from its own project folder, with the settings it ships with.
            WorkingDirectory = Path.Combine(PostgresServer.RepoRoot(), "src", "Broker"),
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Broker.dll"));
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        start.Environment["ASPNETCORE_URLS"] = BaseUrl;
        _process?.Dispose();
        _process = new Process { StartInfo = start };
        var run = ++Starts;
        _process.OutputDataReceived += (_, e) => Keep(run, e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(run, e.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + (readyWithin ?? TimeSpan.FromSeconds(180));
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"Broker.dll exited with {_process.ExitCode} at start {run}:\n{Tail()}");
            }
            try
            {
                if ((await http.GetAsync($"{BaseUrl}/readyz", ct)).StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested) { }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Broker.dll start {run} was not ready within {readyWithin ?? TimeSpan.FromSeconds(180)}:\n{Tail()}");
            }
            await Task.Delay(200, ct);
        }
    }

    /// <summary>kill -9: the process ends at once, in the middle of whatever it was doing.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false } p)
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit(10_000);
        }
    }

    /// <summary>SIGTERM and a wait: the host's graceful shutdown (running polls finish).</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false } p)
        {
            using var term = Process.Start("kill", ["-TERM", p.Id.ToString()]);
            await term.WaitForExitAsync();
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await p.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                Kill();
            }
        }
    }

    public string Tail(int lines = 60) => string.Join('\n', Output.Split('\n').TakeLast(lines));

    private void Keep(int run, string? line)
    {
        if (line is not null)
        {
            lock (_output) _output.Append('[').Append(run).Append("] ").AppendLine(line);
        }
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        _process?.Dispose();
        return ValueTask.CompletedTask;
    }
}
