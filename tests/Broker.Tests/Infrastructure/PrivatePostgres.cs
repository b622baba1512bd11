using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Broker.Tests.Infrastructure;

/// <summary>
/// A PostgreSQL cluster of one test's own (through <c>./broker.sh postgres start/stop</c>), for tests that stop
/// and restart the server: the shared <see cref="PostgresServer"/> serves every other test and must stay up.
/// </summary>
public sealed class PrivatePostgres : IAsyncDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"broker-private-pg-{Environment.ProcessId}-{Guid.NewGuid():N}");
    private readonly int _port = PostgresServer.FreePort();

    public string ServerConnectionString { get; private set; } = "";

    public static async Task<PrivatePostgres> StartAsync()
    {
        var cluster = new PrivatePostgres();
        await cluster.StartAgainAsync();
        return cluster;
    }

    /// <summary>A new database with the broker's schema; returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string name = "broker")
    {
        await using (var admin = new NpgsqlConnection(ServerConnectionString + ";Database=postgres"))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", admin);
            await create.ExecuteNonQueryAsync();
        }
        var connectionString = $"{ServerConnectionString};Database={name};Include Error Detail=true";
        await using var db = PostgresServer.CreateDbContext(connectionString);
        await db.Database.MigrateAsync();
        return connectionString;
    }

    /// <summary><c>pg_ctl stop -m fast</c>: open sessions are ended, the server is gone until started again.</summary>
    public Task StopAsync() => PostgresServer.RunBrokerShAsync("postgres", "stop", _dir);

    /// <summary>Starts the same cluster (same data, same port) again.</summary>
    public async Task StartAgainAsync()
    {
        var output = await PostgresServer.RunBrokerShAsync("postgres", "start", _dir, _port.ToString());
        ServerConnectionString = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1].Trim();
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await StopAsync();
        Directory.Delete(_dir, recursive: true);
    }
}
