/** Roles and the permissions they carry. Operator routes need `system:operate`. */
export const PERMISSIONS = ["system:operate", "system:read"] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const ROLES = ["operator", "viewer"] as const;
export type Role = (typeof ROLES)[number];

export const OPERATOR_PERMISSIONS: readonly Permission[] = ["system:operate", "system:read"];

export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  operator: OPERATOR_PERMISSIONS,
  viewer: ["system:read"],
};
