using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Bench;

/// <summary>
/// A throw-away PostgreSQL for one benchmark run, started and stopped with `./broker.sh postgres`
/// (BENCH_PG, a server connection string, uses an existing one instead).
/// </summary>
public sealed class LocalPostgres : IAsyncDisposable
{
    private readonly string? _dir;

    private LocalPostgres(string connectionString, string? dir) => (ServerConnectionString, _dir) = (connectionString, dir);

    public string ServerConnectionString { get; }

    public string ConnectionString(string database) => $"{ServerConnectionString};Database={database}";

    public static async Task<LocalPostgres> StartAsync()
    {
        if (Environment.GetEnvironmentVariable("BENCH_PG") is { Length: > 0 } given)
        {
            return new LocalPostgres(given, null);
        }
        var dir = Path.Combine(Path.GetTempPath(), $"broker-bench-pg-{Environment.ProcessId}");
        var output = await BrokerShAsync("postgres", "start", dir, FreePort().ToString());
        return new LocalPostgres(output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1].Trim(), dir);
    }

    public async ValueTask DisposeAsync()
    {
        Npgsql.NpgsqlConnection.ClearAllPools();
        if (_dir is not null)
        {
            await BrokerShAsync("postgres", "stop", _dir);
            Directory.Delete(_dir, recursive: true);
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Broker.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("Broker.sln not found above " + AppContext.BaseDirectory);
    }

    private static async Task<string> BrokerShAsync(params string[] args)
    {
        var start = new ProcessStartInfo(Path.Combine(RepoRoot(), "broker.sh")) { RedirectStandardOutput = true, RedirectStandardError = true };
        args.ToList().ForEach(start.ArgumentList.Add);
        start.Environment["PG_FAST"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"broker.sh {string.Join(' ', args)} failed ({process.ExitCode}): {await stderr}{await stdout}");
        }
        return await stdout;
    }
}
