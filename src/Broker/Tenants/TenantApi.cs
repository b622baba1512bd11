using Broker.People;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Broker.Tenants;

/// <summary>Marks an endpoint of the tenant API that needs more than membership.</summary>
public sealed record RequiresTenantRole(TenantRole Role);

/// <summary>
/// The tenant-scoped HTTP API, mapped twice from one set of endpoint definitions:
/// <c>/api/v1/tenants/{tenant}/…</c> for any caller with access to that tenant (an operator key, the
/// tenant's own key) and <c>/api/v1/…</c> as the short form for a tenant key's own tenant.
/// One filter resolves the tenant for both, through <see cref="TenantAccess"/>.
/// </summary>
public static class TenantApi
{
    /// <summary>Bearer credentials of the API: operator keys (and the bootstrap token) and tenant keys.</summary>
    public const string ApiPolicy = "Api";
    private const string TenantIdItem = "broker.tenant_id";

    public static IEndpointRouteBuilder MapTenantApi(this IEndpointRouteBuilder routes, params Action<RouteGroupBuilder>[] features)
    {
        var named = routes.MapGroup("/api/v1/tenants/{tenant}").RequireAuthorization(ApiPolicy).AddEndpointFilter<TenantScopeFilter>();
        var own = routes.MapGroup("/api/v1").RequireAuthorization(TenancyExtensions.TenantPolicy).AddEndpointFilter<TenantScopeFilter>();
        foreach (var map in features)
        {
            map(named);
            map(own);
        }
        return routes;
    }

    public static TBuilder RequireTenantRole<TBuilder>(this TBuilder builder, TenantRole role) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RequiresTenantRole(role));

    /// <summary>The tenant this request acts on. Only valid inside the tenant API.</summary>
    public static Guid TenantId(this HttpContext http) =>
        http.Items[TenantIdItem] as Guid? ?? throw new InvalidOperationException("No tenant on this request; is the endpoint mapped through MapTenantApi?");

    private sealed class TenantScopeFilter(TenantAccess access) : IEndpointFilter
    {
        public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
        {
            var http = context.HttpContext;
            var needed = http.GetEndpoint()?.Metadata.GetMetadata<RequiresTenantRole>()?.Role ?? TenantRole.Member;
            if (http.GetRouteValue("tenant") is not string slug)
            {
                // The short form: behind the Tenant policy, so a tenant key acting with its scope's role.
                if (needed == TenantRole.Admin && http.User.KeyRole() != TenantRole.Admin)
                {
                    return Forbidden(needed);
                }
                http.Items[TenantIdItem] = http.User.TenantId();
                return await next(context);
            }
            var result = await access.ResolveAsync(http.User, slug, needed, http.RequestAborted);
            switch (result.Outcome)
            {
                case AccessOutcome.Allowed:
                    http.Items[TenantIdItem] = result.Tenant!.Id;
                    return await next(context);
                case AccessOutcome.Forbidden:
                    return Forbidden(needed);
                case AccessOutcome.Unauthenticated:
                    return TypedResults.Unauthorized();
                default:
                    return TypedResults.Problem(statusCode: 404, title: "Not Found", detail: "No such tenant.");
            }
        }

        private static ProblemHttpResult Forbidden(TenantRole needed) =>
            TypedResults.Problem(statusCode: 403, title: "Forbidden", detail: $"This needs the tenant role '{needed.Name()}'.");
    }
}
