using Broker.Data;
using Microsoft.EntityFrameworkCore;

namespace Bench;

public static class Hosting
{
    /// <summary>
    /// WebApplicationFactory guesses an app's content root from the solution folder ("./Broker"),
    /// which is wrong here and fatal outside a test runner; say where the apps' sources are.
    /// </summary>
    public static void PointAtSources()
    {
        var src = Path.Combine(LocalPostgres.RepoRoot(), "src");
        Environment.SetEnvironmentVariable("ASPNETCORE_TEST_CONTENTROOT_BROKER", Path.Combine(src, "Broker"));
        Environment.SetEnvironmentVariable("ASPNETCORE_TEST_CONTENTROOT_TESLASIMULATOR", Path.Combine(src, "TeslaSimulator"));
    }

    /// <summary>Creates and migrates the broker's schema before any broker starts (its start-up already reads keys from it).</summary>
    public static async Task MigrateAsync(string connectionString)
    {
        var options = new DbContextOptionsBuilder<BrokerDbContext>().UseNpgsql(connectionString).UseSnakeCaseNamingConvention().Options;
        await using var db = new BrokerDbContext(options);
        await db.Database.MigrateAsync();
    }
}
