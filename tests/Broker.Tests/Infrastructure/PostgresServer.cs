using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Broker.Data;
using Microsoft.EntityFrameworkCore;
using Npgsql;

[assembly: AssemblyFixture(typeof(Broker.Tests.Infrastructure.PostgresServer))]

namespace Broker.Tests.Infrastructure;

/// <summary>
/// A real PostgreSQL for the whole test run. `./broker.sh test` starts one and passes it in
/// BROKER_TEST_PG; a bare `dotnet test` starts its own through `./broker.sh postgres start`.
/// Every test gets a fresh database cloned from a migrated template, so no test sees another's rows.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private const string Template = "broker_template";
    private string? _ownedDir;
    private int _databases;

    public string ServerConnectionString { get; private set; } = "";

    public async ValueTask InitializeAsync()
    {
        ServerConnectionString = Environment.GetEnvironmentVariable("BROKER_TEST_PG") is { Length: > 0 } given
            ? given
            : await StartOwnServerAsync();
        await using (var admin = new NpgsqlConnection(ServerConnectionString + ";Database=postgres"))
        {
            await admin.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {Template} WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync();
        }
        await using var db = CreateDbContext(ConnectionString(Template));
        await db.Database.MigrateAsync();
        NpgsqlConnection.ClearAllPools(); // CREATE DATABASE ... TEMPLATE needs the template unused
    }

    /// <summary>A new, migrated, empty database for one test; returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = $"broker_test_{Environment.ProcessId}_{Interlocked.Increment(ref _databases)}";
        await using var admin = new NpgsqlConnection(ServerConnectionString + ";Database=postgres");
        await admin.OpenAsync();
        await using var create = new NpgsqlCommand($"CREATE DATABASE {name} TEMPLATE {Template}", admin);
        await create.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }

    public string ConnectionString(string database) => $"{ServerConnectionString};Database={database};Include Error Detail=true";

    /// <summary>
    /// What an operator's backup (or an attacker holding one) reads: a plain-text <c>pg_dump</c> of the database
    /// (bytea columns as base64 text). Fails unless it ran and dumped the token table.
    /// </summary>
    public static async Task<string> PlainDumpAsync(string connectionString, CancellationToken ct)
    {
        var cs = new NpgsqlConnectionStringBuilder(connectionString);
        var start = new ProcessStartInfo("pg_dump", ["--format=plain", "--no-owner", "-h", cs.Host!, "-p", cs.Port.ToString(), "-U", cs.Username ?? "postgres", cs.Database!])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        Assert.True(process.ExitCode == 0, $"pg_dump failed: {await stderr}");
        var dump = await stdout;
        Assert.Contains("COPY public.tesla_tokens", dump); // it did dump the tokens table
        return dump;
    }

    public static BrokerDbContext CreateDbContext(string connectionString)
    {
        var options = new DbContextOptionsBuilder<BrokerDbContext>();
        options.UseBrokerNpgsql(connectionString);
        return new BrokerDbContext(options.Options);
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_ownedDir is not null)
        {
            await RunBrokerShAsync("postgres", "stop", _ownedDir);
            Directory.Delete(_ownedDir, recursive: true);
        }
    }

    private async Task<string> StartOwnServerAsync()
    {
        _ownedDir = Path.Combine(Path.GetTempPath(), $"broker-test-pg-{Environment.ProcessId}");
        var output = await RunBrokerShAsync("postgres", "start", _ownedDir, FreePort().ToString());
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1].Trim();
    }

    internal static async Task<string> RunBrokerShAsync(params string[] args)
    {
        var start = new ProcessStartInfo(Path.Combine(RepoRoot(), "broker.sh")) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }
        start.Environment["PG_FAST"] = "1";
        using var process = Process.Start(start)!;
        var stdout = await process.StandardOutput.ReadToEndAsync();
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"broker.sh {string.Join(' ', args)} failed ({process.ExitCode}): {stderr}{stdout}");
        }
        return stdout;
    }

    internal static string RepoRoot()
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

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
