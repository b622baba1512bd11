using System.Text.Json.Nodes;
using Broker.Accounts;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Broker.Admin;

/// <summary>An API operation's stable name for generated clients; the tenant-named form of a tenant route gets <c>ForTenant</c> appended.</summary>
public sealed record OperationName(string Id);

/// <summary>
/// <c>/openapi/v1.json</c>, complete enough for client generators: the bearer scheme, an operation id and a summary on every
/// operation (<see cref="Describe{TBuilder}"/> beside each route), the problem answers every API route can give (400, 401, 403,
/// 404), and the closed lists of words in answers (an account's <c>status</c> and <c>attention</c>) as enums.
/// </summary>
public static class ApiDescription
{
    public const string BearerScheme = "bearer";

    public static TBuilder Describe<TBuilder>(this TBuilder builder, string operationId, string summary) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new OperationName(operationId)).WithSummary(summary);

    /// <summary>Every word <see cref="AccountsEndpoints.Attention"/> and <see cref="AccountsEndpoints.StatusName"/> can answer.</summary>
    public static readonly string[] AccountStatuses = ["active", "needs_reconnect", "revoked"];
    public static readonly string[] AttentionReasons = ["needs_reconnect", "revoked", "missing_scopes", "virtual_key_not_paired", "tesla_rejects_token"];

    public static void Configure(OpenApiOptions o)
    {
        o.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Broker API";
            document.Info.Description = "Tenant and operator API. Authenticate with `Authorization: Bearer <key>`: a tenant key (brk_…) "
                + "acts on its own tenant (/api/v1/… or /api/v1/tenants/{tenant}/…) with its scope (admin, member, or metrics: /metrics only); "
                + "an operator key (brko_…) on every tenant (operator scope) or only reads /metrics (metrics scope). Errors are RFC 9457 problem details.";
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "A tenant API key (brk_…) or an operator API key (brko_…), made in the console or through this API.",
            };
            return Task.CompletedTask;
        });

        o.AddOperationTransformer((operation, context, _) =>
        {
            var route = context.Description.RelativePath ?? "";
            if (context.Description.ActionDescriptor.EndpointMetadata.OfType<OperationName>().LastOrDefault() is { } name)
            {
                operation.OperationId = route.Contains("{tenant}") ? name.Id + "ForTenant" : name.Id;
            }
            if (!route.StartsWith("api/"))
            {
                return Task.CompletedTask;   // the public key Tesla downloads: no credential
            }
            operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, context.Document)] = [] }];
            operation.Responses ??= new OpenApiResponses();
            // Every refusal Broker answers is a problem document, whatever type the handler declared its body with.
            foreach (var (status, response) in operation.Responses.Where(r => r.Key.StartsWith('4')))
            {
                if (response.Content?.Remove("application/json", out var body) == true)
                {
                    response.Content["application/problem+json"] = body;
                }
            }
            Problem(operation, "401", "No credential, or one Broker does not know (unknown, revoked or malformed key).");
            Problem(operation, "403", "The credential is valid but may not do this (its scope or role is too small, or the route is for operators).");
            // The tenant slug is bound by the route group, not by a handler parameter, so the document would not name it otherwise.
            if (route.Contains("{tenant}") && operation.Parameters?.Any(p => p.Name == "tenant") != true)
            {
                operation.Parameters ??= [];
                operation.Parameters.Insert(0, new OpenApiParameter
                {
                    Name = "tenant", In = ParameterLocation.Path, Required = true, Schema = new OpenApiSchema { Type = JsonSchemaType.String },
                    Description = "The tenant's slug. A tenant key may name only its own tenant; an operator key any.",
                });
            }
            if (route.Contains('{'))
            {
                Problem(operation, "404", "No such tenant, account, link, key or member, or one of another tenant (the two answer alike).");
            }
            if (context.Description.ParameterDescriptions.Any(p => p.Source.Id is "Body" or "Query"))
            {
                Problem(operation, "400", "The request is malformed or breaks a rule: the problem's errors name each field.");
            }
            return Task.CompletedTask;
        });

        o.AddSchemaTransformer((schema, context, _) =>
        {
            // The strict converter is not the framework's, so the document is told what it accepts: these names, as strings.
            if ((Nullable.GetUnderlyingType(context.JsonTypeInfo.Type) ?? context.JsonTypeInfo.Type) is { IsEnum: true } type)
            {
                schema.Type = JsonSchemaType.String;
                schema.Enum = [.. Hosting.StrictEnumConverter.Names(type).Select(n => (JsonNode)n)];
            }
            if (context.JsonPropertyInfo is { } property && property.DeclaringType == typeof(AccountResponse))
            {
                switch (property.Name)
                {
                    case "status":
                        schema.Enum = [.. AccountStatuses.Select(s => (JsonNode)s)];
                        break;
                    case "attention" when schema.Items is OpenApiSchema items:
                        items.Enum = [.. AttentionReasons.Select(s => (JsonNode)s)];
                        break;
                }
            }
            return Task.CompletedTask;
        });
    }

    private static void Problem(OpenApiOperation operation, string status, string description)
    {
        // The framework lists a typed NotFound or Conflict with no body: Broker answers every one of them as a problem.
        if (operation.Responses!.TryGetValue(status, out var listed) && listed.Content?.Count > 0)
        {
            return;
        }
        operation.Responses[status] = new OpenApiResponse
        {
            Description = description,
            Content = new Dictionary<string, OpenApiMediaType>
            {
                ["application/problem+json"] = new()
                {
                    Schema = new OpenApiSchema
                    {
                        Type = JsonSchemaType.Object,
                        Properties = new Dictionary<string, IOpenApiSchema>
                        {
                            ["type"] = new OpenApiSchema { Type = JsonSchemaType.String },
                            ["title"] = new OpenApiSchema { Type = JsonSchemaType.String },
                            ["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer },
                            ["detail"] = new OpenApiSchema { Type = JsonSchemaType.String },
                        },
                    },
                },
            },
        };
    }
}
