using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Npgsql;

namespace Broker.Data;

public static class DatabaseExtensions
{
    public const string ConnectionStringName = "Broker";

    /// <summary>Replaces the connection string's password: <c>Database__Password_FILE</c> is the secret file the postgres image reads too.</summary>
    public const string PasswordKey = "Database:Password";

    public static WebApplicationBuilder AddBrokerDatabase(this WebApplicationBuilder builder)
    {
        // Read when the first context is made, not now: hosts and tests may add configuration late.
        // A factory as well as the scoped context: work that must commit on its own (a token
        // refresh in the middle of a poll) takes a context of its own instead of the caller's.
        builder.Services.AddDbContextFactory<BrokerDbContext>((sp, o) => o.UseBrokerNpgsql(sp.GetRequiredService<IConfiguration>().GetBrokerConnectionString()));
        builder.Services.AddScoped(sp => sp.GetRequiredService<IDbContextFactory<BrokerDbContext>>().CreateDbContext());
        builder.Services.AddHealthChecks().AddDbContextCheck<BrokerDbContext>("database", tags: [Hosting.HostingExtensions.ReadyTag]);
        builder.Services.AddExceptionHandler<DatabaseUnavailableHandler>();
        builder.Services.AddExceptionHandler<UniqueViolationHandler>();
        return builder;
    }

    /// <summary>
    /// The connection string of every database user in the process (EF Core here, Quartz in Jobs/), made
    /// only here: <c>ConnectionStrings:Broker</c>, with <see cref="PasswordKey"/> as its password when that is
    /// set, and GSS encryption off unless the string asks for it.
    /// </summary>
    public static string GetBrokerConnectionString(this IConfiguration configuration)
    {
        var builder = new NpgsqlConnectionStringBuilder(configuration.GetConnectionString(ConnectionStringName)
            ?? throw new InvalidOperationException(
                $"ConnectionStrings:{ConnectionStringName} is not set (environment: ConnectionStrings__{ConnectionStringName}=Host=...;Database=...)."));
        if (configuration[PasswordKey] is { Length: > 0 } password)
        {
            builder.Password = password;
        }
        // Npgsql's default (Prefer) loads libgssapi_krb5 on every new connection and, where the library or a
        // Kerberos set-up is missing (the aspnet image), logs an error for an encryption nobody uses here.
        if (!builder.Keys.Contains("GSS Encryption Mode"))
        {
            builder.GssEncryptionMode = GssEncryptionMode.Disable;
        }
        return builder.ConnectionString;
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
