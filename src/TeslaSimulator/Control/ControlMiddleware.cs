using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using TeslaSimulator.State;
using TeslaSimulator.Fixtures;

namespace TeslaSimulator.Control;

internal static class ControlMiddleware
{
    /// <summary>Counts every Tesla-facing request after it completes, with the tags its handler set.</summary>
    public static IApplicationBuilder UseCallLedger(this IApplicationBuilder app) => app.Use(async (ctx, next) =>
    {
        var category = CallLedger.CategoryOf(ctx.Request.Path);
        try { await next(ctx); }
        finally
        {
            if (category is not null)
            {
                var account = ctx.AccountTag() is "-" ? FallbackAccount(ctx) : ctx.AccountTag();
                var device = ctx.DeviceTag() is "-" ? FallbackDevice(ctx.Request.Path) : ctx.DeviceTag();
                ctx.RequestServices.GetRequiredService<CallLedger>().Record(account, device, category, ctx.Response.StatusCode, ctx.Request.Host.Value ?? "");
            }
        }
    });

    // Requests answered before a handler ran (injected faults) still belong to someone: read the token's
    // subject without validating it, and the device from the path. Used for accounting only.
    private static string FallbackAccount(HttpContext ctx)
    {
        var header = ctx.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return "-";
        var handler = new JsonWebTokenHandler();
        var token = header["Bearer ".Length..].Trim();
        if (!handler.CanReadToken(token)) return "-";
        string sub;
        try { sub = handler.ReadJsonWebToken(token).Subject; }
        catch (ArgumentException) { return "-"; }
        var state = ctx.RequestServices.GetRequiredService<SimulatorState>();
        lock (state.Gate) return state.AccountBySub(sub)?.Email ?? "-";
    }

    private static string FallbackDevice(PathString path)
    {
        var parts = (path.Value ?? "").Split('/', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length >= 4 && parts[0] == "api" && parts[2] is "vehicles" or "energy_sites"
            && parts[3] is not ("fleet_status" or "fleet_telemetry_config" or "fleet_telemetry_config_jws") ? parts[3] : "-";
    }

    public static IApplicationBuilder UseFaultInjection(this IApplicationBuilder app) => app.Use(async (ctx, next) =>
    {
        var fault = CallLedger.CategoryOf(ctx.Request.Path) is null ? null
            : ctx.RequestServices.GetRequiredService<FaultQueue>().Take(ctx.Request.Path);
        if (fault is null) { await next(ctx); return; }

        // Network latency is real time on purpose: it exercises the client's timeouts, which run on the real clock.
        if (fault.DelayMs > 0) await Task.Delay(fault.DelayMs.Value, ctx.RequestAborted);
        if (fault.Status is not { } status) { await next(ctx); return; }

        if (fault.AfterCommit)
        {
            var original = ctx.Response.Body;
            ctx.Response.Body = Stream.Null; // the real answer is produced, committed, and lost
            try { await next(ctx); }
            finally { ctx.Response.Body = original; }
            ctx.Response.Clear();
        }
        await WriteFaultAsync(ctx, fault, status);
    });

    private static async Task WriteFaultAsync(HttpContext ctx, FaultRequest fault, int status)
    {
        var response = ctx.Response;
        response.StatusCode = status;
        var retryAfter = fault.RetryAfterSeconds ?? (status == 429 ? 60 : null);
        if (retryAfter is { } r) response.Headers.RetryAfter = r.ToString();

        var (body, type) = fault.Body switch
        {
            "empty" => ("", "application/json"),
            "malformed" => ("{\"response\":{\"id\":12345,\"state\":\"onl", "application/json"),
            null => DefaultBody(ctx.Request.Path, status, retryAfter),
            var text => (text, text.TrimStart().StartsWith('{') || text.TrimStart().StartsWith('[') ? "application/json" : "text/plain"),
        };
        response.ContentType = type;
        response.ContentLength = Encoding.UTF8.GetByteCount(body);
        await response.WriteAsync(body, ctx.RequestAborted);
    }

    private static (string Body, string Type) DefaultBody(PathString path, int status, int? retryAfter)
    {
        if (status == 429) return ($"Retry in {retryAfter ?? 60} seconds", "text/plain");
        if (status == 408) return (Fixture.Load("error_408_vehicle_unavailable").ToJsonString(), "application/json");
        if (path.StartsWithSegments("/oauth2"))
            return ("{\"error\":\"server_error\",\"error_description\":\"Internal server error\"}", "application/json");
        var error = status >= 500 ? "upstream internal error" : $"simulated error {status}";
        return ($"{{\"response\":null,\"error\":\"{error}\",\"error_description\":\"\"}}", "application/json");
    }
}
