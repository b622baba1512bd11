using System.Net;
using Broker.Data;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Broker.Hosting;

/// <summary>
/// Which reverse proxies are believed about the client's scheme, host and address. Empty: only a
/// proxy on loopback (nginx on the same machine). Behind another host (compose, Kubernetes) list
/// its address or network; anyone else's <c>X-Forwarded-*</c> headers are ignored.
/// </summary>
public sealed class ProxyOptions
{
    public const string SectionName = "ForwardedHeaders";
    public string[] KnownProxies { get; set; } = [];
    /// <summary>CIDR networks, e.g. <c>172.28.0.0/16</c>.</summary>
    public string[] KnownNetworks { get; set; } = [];
}

/// <summary>The host around the features: framework services, trusted forwarded headers, liveness, readiness, start-up schema check, shutdown.</summary>
public static class HostingExtensions
{
    public const string ReadyTag = "ready";

    public static WebApplicationBuilder AddBrokerHosting(this WebApplicationBuilder builder)
    {
        builder.Configuration.AddSecretFiles(); // X_FILE settings filled from files (compose secrets), before anything reads configuration
        builder.Services.AddSingleton(TimeProvider.System);
        // ASP.NET's "Request starting/finished" lines carry the whole query string, and the OAuth callbacks
        // (/connect/callback, /signin-oidc) receive their authorization code there (Tesla answers only with
        // response_mode=query). Registered after configuration, this rule wins even where an operator turns
        // Microsoft.AspNetCore up to Debug; warnings and errors of that category still pass.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);
        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = context =>
        {
            // A form that binds fields fails before the browser groups' filter (BrowserForms) can say why: the same words, whichever form.
            if (context.ProblemDetails.Status == StatusCodes.Status400BadRequest
                && context.HttpContext.Features.Get<Microsoft.AspNetCore.Antiforgery.IAntiforgeryValidationFeature>() is { IsValid: false })
            {
                context.ProblemDetails.Title = BrowserForms.ExpiredTitle;
                context.ProblemDetails.Detail = BrowserForms.ExpiredDetail;
            }
        });
        // After the default writer, which declines when Accept names no JSON: the API still answers problem+json.
        builder.Services.AddSingleton<IProblemDetailsWriter, ApiProblemDetailsWriter>();
        // Before it, though, for a browser outside the API: a person is shown a page, not problem+json.
        builder.Services.Insert(0, ServiceDescriptor.Singleton<IProblemDetailsWriter, BrowserProblemDetailsWriter>());
        builder.Services.AddValidation();
        // Development's default throws on a request that cannot be bound (malformed JSON, a missing form token), and the
        // developer page answers 500. The demo is where people try Broker first: 400 there too, as in Production.
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = false);
        builder.Services.AddRazorComponents(); // server-rendered connect and console pages
        var proxies = builder.Configuration.GetSection(ProxyOptions.SectionName).Get<ProxyOptions>() ?? new();
        builder.Services.Configure<ForwardedHeadersOptions>(o =>
        {
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto | ForwardedHeaders.XForwardedHost;
            // AllowedHosts (the framework's host filter on Host) also bounds what a proxy may forward as
            // X-Forwarded-Host, so a browser's Host header cannot choose the host of the links Broker hands out.
            if (builder.Configuration["AllowedHosts"] is { Length: > 0 } allowed && allowed != "*")
            {
                o.AllowedHosts = allowed.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            }
            if (proxies.KnownProxies.Length + proxies.KnownNetworks.Length > 0)
            {
                o.KnownProxies.Clear();
                o.KnownIPNetworks.Clear(); // loopback is trusted only when listed
                foreach (var proxy in proxies.KnownProxies)
                {
                    o.KnownProxies.Add(IPAddress.Parse(proxy));
                }
                foreach (var network in proxies.KnownNetworks)
                {
                    o.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(network));
                }
            }
        });
        builder.Services.AddHealthChecks().AddCheck<SchemaHealthCheck>("schema", tags: [ReadyTag]);
        // Running polls get this long to finish (Quartz waits for them) before the process stops.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(builder.Configuration.GetValue("Hosting:ShutdownTimeoutSeconds", 30)));
        return builder;
    }

    /// <summary>
    /// What every request meets first: the trusted proxy's forwarded headers, then the refusal of control characters
    /// anywhere in the path or the query (after decoding), and of a body in any charset but UTF-8. No route takes one, Postgres cannot compare a NUL, and a
    /// CR/LF that reaches a Location header or a log line splits it (<see cref="TextInput"/>). The two OAuth callbacks
    /// are the exception: their query is written by Tesla or the identity provider (an <c>error_description</c> may hold
    /// anything), nothing of it is stored, and their handlers answer a failure with a page the person can act on.
    /// </summary>
    public static IApplicationBuilder UseBrokerFrontDoor(this IApplicationBuilder app)
    {
        app.UseForwardedHeaders();
        return app.Use((context, next) =>
        {
            var request = context.Request;
            var callback = request.Path.Equals(Connect.TeslaConnect.CallbackPath) || request.Path.Equals(People.ConsoleAuthentication.CallbackPath);
            if (TextInput.HasControl(request.Path.Value)
                || (!callback && request.Query.Any(q => TextInput.HasControl(q.Key) || q.Value.Any(v => TextInput.HasControl(v)))))
            {
                return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, detail: "The address contains control characters.").ExecuteAsync(context);
            }
            // Bodies are UTF-8: an unknown charset once made the JSON reader throw (a 500); any other is refused before it is read.
            return Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(request.ContentType, out var type)
                && type.Charset.HasValue && !type.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) && !type.Charset.Equals("utf8", StringComparison.OrdinalIgnoreCase)
                ? TypedResults.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, detail: "Send the body in UTF-8 (charset=utf-8), or without a charset.").ExecuteAsync(context)
                : next(context);
        });
    }

    /// <summary>
    /// Bodies for empty error responses (404 of an unknown route, 405, 415, an authentication 401). The default
    /// honours Accept and falls back to text/plain; the API has no representation but problem+json, so under
    /// <c>/api</c> that is what every client gets, whatever it accepts.
    /// </summary>
    public static IApplicationBuilder UseBrokerStatusCodePages(this IApplicationBuilder app)
    {
        var framework = new StatusCodePagesOptions().HandleAsync; // problem details when a writer takes it, else text/plain
        return app.UseStatusCodePages(context => context.HttpContext.Request.Path.StartsWithSegments("/api")
            ? TypedResults.Problem(statusCode: context.HttpContext.Response.StatusCode).ExecuteAsync(context.HttpContext)
            : framework(context));
    }

    /// <summary>
    /// <c>/</c>: what this is, for a person (the landing page). <c>/healthz</c>: the process answers (liveness).
    /// <c>/readyz</c>: Postgres answers and the schema is current.
    /// </summary>
    public static IEndpointRouteBuilder MapBrokerHealth(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/", (HttpContext http) =>
        {
            PageHeaders.Apply(http.Response, PageHeaders.SelfOnly);
            return new Microsoft.AspNetCore.Http.HttpResults.RazorComponentResult<Pages.LandingPage>(new { Request = $"{http.Request.Scheme}://{http.Request.Host}" });
        }).ExcludeFromDescription();
        routes.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false });
        routes.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = c => c.Tags.Contains(ReadyTag) });
        return routes;
    }

    /// <summary>
    /// In Development (or with <c>Database:MigrateOnStart</c>) applies migrations and seeds the demo
    /// tenant. Otherwise refuses to serve against a schema older than this build (pending migrations):
    /// says what to run and returns a non-zero exit code. An unreachable database is not fatal here:
    /// /readyz reports it until it answers.
    /// </summary>
    public static async Task<int?> PrepareDatabaseAsync(this WebApplication app)
    {
        // Configuration mistakes (a missing vault key, a bad URL) are reported before anything touches the database.
        app.Services.GetService<Microsoft.Extensions.Options.IStartupValidator>()?.Validate();
        if (app.Configuration.GetValue("Database:MigrateOnStart", app.Environment.IsDevelopment()))
        {
            await app.Services.MigrateBrokerDatabaseAsync();
            await Demo.DemoSeeder.SeedDemoTenantAsync(app.Services);
            return null;
        }
        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BrokerDbContext>();
        var logger = scope.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(HostingExtensions));
        try
        {
            var pending = (await db.Database.GetPendingMigrationsAsync()).ToList();
            if (pending.Count == 0)
            {
                return null;
            }
            logger.LogCritical("{Message}", SchemaHealthCheck.Describe(pending));
            await Console.Error.WriteLineAsync(SchemaHealthCheck.Describe(pending));
            return 3;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning("Database not reachable at start-up ({Error}); /readyz stays unready until it is.", ex.Message);
            return null;
        }
    }
}

/// <summary>Ready when Postgres answers and every migration this build knows is applied.</summary>
internal sealed class SchemaHealthCheck(BrokerDbContext db) : IHealthCheck
{
    public static string Describe(IReadOnlyCollection<string> pending) =>
        $"The database schema is older than this Broker: {pending.Count} migration(s) pending ({string.Join(", ", pending)}). "
        + "Run `dotnet Broker.dll migrate` (compose: `docker-compose run --rm migrate`), then start Broker again.";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        try
        {
            var pending = (await db.Database.GetPendingMigrationsAsync(ct)).ToList();
            return pending.Count == 0 ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy(Describe(pending));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("Database not reachable.", ex);
        }
    }
}

/// <summary>
/// Problem details under <c>/api</c> for a client whose Accept names no JSON (a browser's text/html): the API
/// has no other representation, so validation and other problems are problem+json for every client.
/// </summary>
internal sealed class ApiProblemDetailsWriter(IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json, IOptions<ProblemDetailsOptions> options)
    : IProblemDetailsWriter
{
    public bool CanWrite(ProblemDetailsContext context) => context.HttpContext.Request.Path.StartsWithSegments("/api");

    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        problem.Status ??= context.HttpContext.Response.StatusCode; // what the default writer fills in too
        problem.Title ??= ReasonPhrases.GetReasonPhrase(problem.Status.Value);
        options.Value.CustomizeProblemDetails?.Invoke(context);
        return new(context.HttpContext.Response.WriteAsJsonAsync(problem, problem.GetType(), json.Value.SerializerOptions, "application/problem+json"));
    }
}
