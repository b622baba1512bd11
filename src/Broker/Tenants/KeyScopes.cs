using System.Security.Claims;
using Broker.People;

namespace Broker.Tenants;

/// <summary>What a tenant API key may do: its tenant as an admin (the default) or a member would, or only read its tenant's /metrics.</summary>
public enum TenantKeyScope { Admin, Member, Metrics }

/// <summary>What an operator key may do: everything on every tenant, or only read /metrics of every tenant (what Prometheus needs).</summary>
public enum OperatorKeyScope { Operator, Metrics }

/// <summary>
/// The claims a bearer credential carries, by scope. A metrics-only credential carries <see cref="MetricsReaderClaim"/>
/// and nothing any other policy asks for, so every route but <c>GET /metrics</c> answers it 403.
/// </summary>
public static class KeyScopes
{
    /// <summary>Whose series /metrics may show: a tenant id, or <see cref="AllTenants"/>.</summary>
    public const string MetricsReaderClaim = "metrics_reader";
    public const string AllTenants = "*";
    /// <summary>The tenant role a tenant key acts with: <c>admin</c> or <c>member</c>.</summary>
    public const string TenantRoleClaim = "tenant_role";

    public static IEnumerable<Claim> ForTenantKey(Guid tenantId, TenantKeyScope scope) => scope switch
    {
        TenantKeyScope.Metrics => [new(MetricsReaderClaim, tenantId.ToString())],
        _ =>
        [
            new(TenantApiKeyHandler.TenantIdClaim, tenantId.ToString()),
            new(TenantRoleClaim, (scope == TenantKeyScope.Admin ? TenantRole.Admin : TenantRole.Member).Name()),
            new(MetricsReaderClaim, tenantId.ToString()),
        ],
    };

    public static IEnumerable<Claim> ForOperatorKey(OperatorKeyScope scope) => scope switch
    {
        OperatorKeyScope.Metrics => [new(MetricsReaderClaim, AllTenants)],
        _ => [new(ConsoleClaims.OperatorClaim, "true"), new(MetricsReaderClaim, AllTenants)],
    };

    /// <summary>The role a tenant key acts with; member unless the key says admin.</summary>
    public static TenantRole KeyRole(this ClaimsPrincipal user) =>
        TenantRoles.TryParse(user.FindFirstValue(TenantRoleClaim), out var role) ? role : TenantRole.Member;

    /// <summary>The tenant whose series a scrape may show; null for every tenant. Only valid behind the metrics policy.</summary>
    public static Guid? MetricsTenant(this ClaimsPrincipal user) =>
        user.FindFirstValue(MetricsReaderClaim) switch
        {
            AllTenants => null,
            { } id => Guid.Parse(id),
            null => throw new InvalidOperationException("No metrics scope on this request; is the endpoint behind the metrics policy?"),
        };

    /// <summary>A scope by its name in any case; numbers are refused (they would bind to values outside the enum).</summary>
    public static bool TryParse<TScope>(string? value, out TScope scope) where TScope : struct, Enum
    {
        var name = Enum.GetNames<TScope>().FirstOrDefault(n => n.Equals(value, StringComparison.OrdinalIgnoreCase));
        scope = name is null ? default : Enum.Parse<TScope>(name);
        return name is not null;
    }

    public static string Name(this TenantKeyScope scope) => scope.ToString().ToLowerInvariant();

    public static string Name(this OperatorKeyScope scope) => scope.ToString().ToLowerInvariant();
}
