import { z } from "@hono/zod-openapi";

export const Email = z
  .string()
  .trim()
  .toLowerCase()
  .max(254)
  .pipe(z.email({ message: "Must be a valid email address." }));

export const Password = z.string().min(8, { message: "Must be at least 8 characters." }).max(256);

export const UserSchema = z
  .object({ id: z.string(), email: z.string(), name: z.string().nullable(), createdAt: z.string() })
  .openapi("User");

export const OrgSummarySchema = z
  .object({ id: z.string(), name: z.string(), role: z.enum(["owner", "admin", "member"]), plan: z.string() })
  .openapi("OrgMembership");

export const OrgSchema = z
  .object({ id: z.string(), name: z.string(), plan: z.string(), createdAt: z.string(), updatedAt: z.string() })
  .openapi("Org");

export const SignupBody = z
  .strictObject({
    email: Email,
    password: Password,
    name: z.string().trim().min(1).max(100).optional(),
    orgName: z.string().trim().min(1).max(100).optional(),
  })
  .openapi("SignupRequest");

export const LoginBody = z.strictObject({ email: Email, password: z.string().min(1).max(256) }).openapi("LoginRequest");
