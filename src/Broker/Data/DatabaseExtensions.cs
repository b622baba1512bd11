using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Broker.Data;

public static class DatabaseExtensions
{
    public const string ConnectionStringName = "Broker";

    public static WebApplicationBuilder AddBrokerDatabase(this WebApplicationBuilder builder)
    {
        // Read when the first context is made, not now: hosts and tests may add configuration late.
        // A factory as well as the scoped context: work that must commit on its own (a token
        // refresh in the middle of a poll) takes a context of its own instead of the caller's.
        builder.Services.AddDbContextFactory<BrokerDbContext>((sp, o) => o.UseBrokerNpgsql(
            sp.GetRequiredService<IConfiguration>().GetConnectionString(ConnectionStringName)
            ?? throw new InvalidOperationException(
                $"ConnectionStrings:{ConnectionStringName} is not set (environment: ConnectionStrings__{ConnectionStringName}=Host=...;Database=...).")));
        builder.Services.AddScoped(sp => sp.GetRequiredService<IDbContextFactory<BrokerDbContext>>().CreateDbContext());
        builder.Services.AddHealthChecks().AddDbContextCheck<BrokerDbContext>("database", tags: [Hosting.HostingExtensions.ReadyTag]);
        builder.Services.AddExceptionHandler<DatabaseUnavailableHandler>();
        return builder;
    }

    internal static DbContextOptionsBuilder UseBrokerNpgsql(this DbContextOptionsBuilder options, string connectionString) =>
        options.UseNpgsql(connectionString, npgsql => npgsql
            // A short outage (failover, restart) is retried; a long one fails fast enough for a 503.
            .EnableRetryOnFailure(maxRetryCount: 3, maxRetryDelay: TimeSpan.FromSeconds(2), errorCodesToAdd: null)
            .UseQuerySplittingBehavior(QuerySplittingBehavior.SplitQuery))
               .UseSnakeCaseNamingConvention();

    /// <summary>
    /// Applies pending migrations (creating the database if needed) through the execution
    /// strategy, so a Postgres that is still starting is retried rather than fatal.
    /// </summary>
    public static async Task MigrateBrokerDatabaseAsync(this IServiceProvider services, CancellationToken ct = default)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BrokerDbContext>();
        var logger = scope.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(DatabaseExtensions));
        var pending = (await db.Database.GetPendingMigrationsAsync(ct)).ToList();
        if (pending.Count > 0)
        {
            logger.LogInformation("Applying {Count} migration(s): {Migrations}", pending.Count, string.Join(", ", pending));
        }
        await db.Database.MigrateAsync(ct);
    }
}

/// <summary>Lets <c>dotnet ef</c> build the model without starting the web host.</summary>
internal sealed class DesignTimeBrokerDbContextFactory : IDesignTimeDbContextFactory<BrokerDbContext>
{
    public BrokerDbContext CreateDbContext(string[] args)
    {
        var options = new DbContextOptionsBuilder<BrokerDbContext>();
        options.UseBrokerNpgsql("Host=localhost;Database=broker_design");
        return new BrokerDbContext(options.Options);
    }
}
