using System.Diagnostics;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Broker.Tests.Data;

/// <summary>The real Broker.dll, started against a database one migration behind it, as an operator would after an upgrade.</summary>
public sealed class SchemaVersionTests(PostgresServer postgres)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task BrokerRefusesAnOlderSchemaSaysWhatToRunAndMigrateFixesIt()
    {
        var connectionString = await postgres.CreateDatabaseAsync();
        string newest;
        await using (var db = PostgresServer.CreateDbContext(connectionString))
        {
            var applied = (await db.Database.GetAppliedMigrationsAsync(Ct)).ToList();
            newest = applied[^1];
            await db.GetService<IMigrator>().MigrateAsync(applied[^2], cancellationToken: Ct); // one step back
        }

        var refused = await RunBrokerAsync(connectionString);
        Assert.Equal(3, refused.ExitCode);
        Assert.Contains("schema is older than this Broker", refused.Output);
        Assert.Contains(newest, refused.Output);
        Assert.Contains("dotnet Broker.dll migrate", refused.Output);

        var migrated = await RunBrokerAsync(connectionString, "migrate");
        Assert.True(migrated.ExitCode == 0, migrated.Output);
        await using var after = PostgresServer.CreateDbContext(connectionString);
        Assert.Empty(await after.Database.GetPendingMigrationsAsync(Ct));
    }

    private static async Task<(int ExitCode, string Output)> RunBrokerAsync(string connectionString, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Broker.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["ConnectionStrings__Broker"] = connectionString;
        start.Environment["Vault__Keys__0__Id"] = "test-1";
        start.Environment["Vault__Keys__0__Key"] = BrokerApplication.VaultKey;
        start.Environment["Tesla__ClientId"] = "schema-test";
        start.Environment["Jobs__Enabled"] = "false";
        start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{PostgresServer.FreePort()}";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(Ct);
        var stderr = process.StandardError.ReadToEndAsync(Ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"Broker.dll {string.Join(' ', args)} did not exit (it should refuse or finish):\n{await stdout}\n{await stderr}");
        }
        return (process.ExitCode, await stdout + await stderr);
    }
}
