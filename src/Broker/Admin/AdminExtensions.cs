using System.Threading.RateLimiting;
using Broker.Accounts;
using Broker.Tenants;
using Microsoft.AspNetCore.RateLimiting;

namespace Broker.Admin;

public static class AdminExtensions
{
    public const string ConnectRateLimit = "connect";

    /// <summary>The console's and the operator API's services, the OpenAPI document, JSON enums as strings, the rate limits.</summary>
    public static WebApplicationBuilder AddAdmin(this WebApplicationBuilder builder)
    {
        builder.Services.AddScoped<OperatorKeys>();
        // Enums by name only: a number ("role": 5) would bind to a value outside the enum, which once ranked above admin.
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.Converters.Add(new Hosting.StrictEnumConverter());
            // {"scope":"metrics","scope":"admin"} is refused: a proxy reading the first would see another request than Broker.
            o.SerializerOptions.AllowDuplicateProperties = false;
        });
        builder.Services.AddScoped<AccountLifecycle>();
        builder.Services.AddOpenApi(ApiDescription.Configure);   // ApiDescription.cs: bearer scheme, operation ids, problem answers, enums
        builder.Services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            // Say when to come back (the window's remaining seconds); the page for a browser repeats it in words.
            o.OnRejected = (context, _) =>
            {
                context.HttpContext.Response.Headers.RetryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait)
                    ? ((int)Math.Ceiling(wait.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture) : "60";
                return ValueTask.CompletedTask;
            };
            // Per client address: a browser signs in or connects a handful of times, a script hammering it does not.
            o.AddPolicy(ConsoleEndpoints.SignInRateLimit, http => PerAddress(http, Limits(http).SignInPerMinute));
            o.AddPolicy(ConnectRateLimit, http => PerAddress(http, Limits(http).ConnectPerMinute));
        });
        return builder;
    }

    /// <summary>Operator-only API: tenants, operator keys, the whole audit log.</summary>
    public static IEndpointRouteBuilder MapOperatorApi(this IEndpointRouteBuilder routes)
    {
        routes.MapTenants();
        routes.MapOperatorKeys();
        routes.MapOperatorAudit();
        return routes;
    }

    private static People.ConsoleOptions Limits(HttpContext http) =>
        http.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<People.ConsoleOptions>>().Value;

    private static RateLimitPartition<string> PerAddress(HttpContext http, int perMinute) =>
        RateLimitPartition.GetFixedWindowLimiter(http.Connection.RemoteIpAddress?.ToString() ?? "unknown",
            _ => new FixedWindowRateLimiterOptions { PermitLimit = perMinute, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 });
}
