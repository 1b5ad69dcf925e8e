/* ast.h — the abstract syntax tree of an .amp file, and the compilation context.
 *
 * The lexer (lex.re) and the grammar (parse.y) build this tree through the
 * ast_* builder calls below; the compiler (compiler/) reads it. Every node
 * carries a Loc so that any later phase can point at the text it came from.
 * All memory comes from one Arena per compilation (arena.h), freed in one call.
 */
#ifndef AMP_AST_H
#define AMP_AST_H

#include <stddef.h>
#include "arena.h"

typedef struct SourceFile {
    const char *path;      /* as the user named it (or as the import resolved it) */
    const char *text;      /* whole file, NUL-terminated */
    size_t len;            /* length of text without the terminator */
    struct SourceFile *next;
} SourceFile;

typedef struct Loc {
    const SourceFile *file;
    int line;              /* 1-based */
    int col;               /* 1-based, in bytes */
    size_t offset;         /* byte offset of the first character */
} Loc;

/* Physical dimension of a value, as exponents of seconds: a number written
 * with `hz`/`khz` has dimension s^-1, with `ms`/`s` s^1. `db` converts to a
 * plain (dimensionless) amplitude factor. DIM_ANY means "no unit written":
 * compatible with every dimension. */
typedef enum { DIM_ANY = 0, DIM_NONE, DIM_FREQ, DIM_TIME } Dim;

/* Unit written after a number literal; the value is already converted to
 * the base unit (Hz, seconds, linear amplitude) by the lexer. */
typedef enum { UNIT_NONE = 0, UNIT_HZ, UNIT_KHZ, UNIT_MS, UNIT_S, UNIT_DB } Unit;

typedef enum {
    EX_NUM,        /* num (unit says how it was written) */
    EX_NAME,       /* name */
    EX_FIELD,      /* a.name: instance port, note.freq, voices.left, out.left */
    EX_CALL,       /* name(args): built-in function */
    EX_METHOD,     /* a.name(args): buf.read(d), tab.lerp(x) */
    EX_UNARY,      /* op a: '-', '!' */
    EX_BINARY,     /* a op b */
    EX_COND,       /* a ? b : c */
    EX_INDEX       /* name[b]: an entry of a table [..] or an instance made in a loop */
} ExprKind;

/* Operators, for EX_UNARY and EX_BINARY. */
typedef enum {
    OP_NEG, OP_NOT,
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD,
    OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE,
    OP_AND, OP_OR
} Op;

typedef struct Expr Expr;
struct FnDef;

typedef struct Arg {
    const char *name;      /* NULL for a positional argument */
    Loc loc;               /* of the name, or of the value if positional */
    Expr *value;
    struct Arg *next;
} Arg;

struct Expr {
    ExprKind kind;
    Loc loc;
    Op op;
    double num;            /* EX_NUM: value in base units */
    Unit unit;             /* EX_NUM: unit as written */
    const char *name;      /* EX_NAME, EX_CALL, EX_INDEX: the name; EX_FIELD, EX_METHOD: the field */
    Expr *a, *b, *c;       /* operands; EX_FIELD/EX_METHOD: a is the object */
    Arg *args;             /* EX_CALL, EX_METHOD */
    int nargs;
    double raw;            /* EX_NUM: the number as written, before the unit's conversion */
    int parenthesized;     /* written inside ( ): keeps `-(6 db)` a negation of 0.501 */
    int depth;             /* height of this subtree, 1 for a leaf; at most AST_MAX_DEPTH */
    long size;             /* nodes of this subtree counted as a tree; 0 until sema's expansion counts them */
    struct FnDef *fn;      /* EX_CALL, EX_METHOD: the function it calls, once looked up (an expression
                              belongs to one file, so the answer does not change) */
};

/* The parser rejects an expression whose tree is deeper than this
 * (`expression nested too deeply`), so a later pass may recurse over an
 * Expr without bounding its own depth. */
enum { AST_MAX_DEPTH = 1000 };

/* A name in a declaration list: `in x, y;` */
typedef struct Ident {
    const char *name;
    Loc loc;
    struct Ident *next;
} Ident;

typedef struct Param {
    const char *name;
    Loc loc;
    Expr *def;             /* default value */
    Expr *lo, *hi;         /* range, both NULL when no `in [lo, hi]` */
    Expr *step;            /* NULL unless `step` */
    Expr *smooth;          /* NULL unless `smooth` (a time) */
    const char *unit_label;/* a unit the language does not have, shown as is ("%", "kHz" from
                              Faust's [unit:...]); NULL otherwise */
    struct Param *next;
} Param;

typedef enum {
    ST_LET,        /* let name = value; */
    ST_ASSIGN,     /* name = value;  (state variable or output port) */
    ST_WRITE       /* name.write(value); (delay line) */
} StmtKind;

typedef struct Stmt {
    StmtKind kind;
    Loc loc;
    const char *name;
    Loc name_loc;
    Expr *value;
    struct Stmt *next;
} Stmt;

typedef enum {
    DECL_STATE,    /* state name = init; */
    DECL_DELAY,    /* delay name[size]; */
    DECL_TABLE,    /* table name[size] = fill;  (fill may use `i`) */
    DECL_LET,      /* let name = value;  (outside process) */
    DECL_ARRAY,    /* table name = [a, b, ...]; */
    DECL_FILE,     /* table name = file("path.wav"[, channel]); */
    DECL_SAMPLE    /* sample name;  a slot the host binds to audio at run time */
} DeclKind;

typedef struct Decl {
    DeclKind kind;
    const char *name;
    Loc loc;
    Expr *value;           /* STATE: initial value; TABLE: fill; LET: value */
    Expr *size;            /* DELAY, TABLE */
    Arg *elems;            /* ARRAY: the entries (positional) */
    const char *file;      /* FILE: the path as written; `value` the channel (NULL: the file must be mono) */
    Loc file_loc;          /* FILE: where the path is written */
    float **file_data;     /* FILE: file_data[c][i], set when the program is loaded (compiler/ampc.c) */
    long file_frames;      /* FILE: frames in the file */
    int file_channels;     /* FILE: channels in the file */
    struct Decl *next;
} Decl;

struct Module;

typedef struct Node {
    const char *name;
    Loc loc;
    Ident *ins, *outs;
    Param *params;
    Decl *decls;           /* state, delay, table and let, in source order */
    Stmt *process;         /* NULL if the node has no process block */
    Loc process_loc;
    int has_process;
    const char *faust_path;/* non-NULL for a node imported from Faust */
    struct Module *module; /* the file that defines it (set when the file is loaded) */
    struct GraphItem *graph; /* a node built from instances (§11): its instances, connections and
                              loops, in source order; NULL for a node with a process block */
    int from_patch;        /* an effect patch used as a node (sema makes it; graph is the patch's) */
    struct Node *next;
} Node;

/* A connection target: `inst.port`, `out`, `out.left`. */
typedef struct Target {
    const char *object;    /* instance name, or "out" */
    const char *port;      /* NULL when no `.port` was written */
    Expr *index;           /* `object[index].port`: an instance made in a loop; NULL otherwise */
    Loc loc;
    struct Target *next;
} Target;

typedef enum {
    GI_INSTANCE,   /* name = node(args); */
    GI_LET,        /* let name = value; */
    GI_CONNECT,    /* value -> targets; */
    GI_ARRAY,      /* table name = [a, b, ...]; */
    GI_FOR,        /* for name in from..to { body } */
    GI_OVERSAMPLE  /* oversample from { body } */
} GraphItemKind;

typedef struct GraphItem {
    GraphItemKind kind;
    Loc loc;
    const char *name;      /* INSTANCE, LET, ARRAY; FOR: the loop's variable */
    Loc name_loc;
    Expr *index;           /* INSTANCE: `name[index] = node(...)`, NULL otherwise */
    const char *node;      /* INSTANCE: the node's name */
    Loc node_loc;
    Arg *args;             /* INSTANCE */
    Expr *value;           /* LET, CONNECT */
    Target *targets;       /* CONNECT */
    Arg *elems;            /* ARRAY */
    Expr *from, *to;       /* FOR: the variable takes from, from + 1, ..., to - 1;
                              OVERSAMPLE: from is the factor */
    struct GraphItem *body;/* FOR, OVERSAMPLE */
    int oversample;        /* INSTANCE: runs at this many times the rate (1: not oversampled);
                              set when an OVERSAMPLE block is unrolled (sema.c) */
    struct GraphItem *next;
} GraphItem;

typedef enum { STEAL_OLDEST = 0, STEAL_QUIETEST, STEAL_NONE } StealMode;

typedef struct Patch {
    const char *name;
    Loc loc;
    Ident *ins, *outs;     /* NULL outs means the default `out left, right;` */
    Param *params;
    Expr *voices;          /* NULL: no voice section */
    Loc voices_loc;
    StealMode steal;
    GraphItem *voice;      /* items of the voice { } block */
    Loc voice_loc;
    int has_voice;
    GraphItem *graph;      /* items outside the voice block */
    Node *as_node;         /* the patch used as a node (§11), made by sema on first use */
    struct Module *module; /* the file that defines it */
    struct Patch *next;
} Patch;

typedef struct Import {
    const char *path;      /* as written, unquoted */
    Loc loc;
    const char *faust_as;  /* non-NULL for `import faust "x.dsp" as name;` */
    const char *as;        /* non-NULL for `import "x.amp" as name;` */
    struct Import *next;
} Import;

/* A function: `fn name(a, b) = body;`. Pure, inlined at each call (the
 * compiler's lower.c binds its parameters to the arguments' values). */
typedef struct FnDef {
    const char *name;
    Loc loc;               /* of the name */
    Ident *params;
    int n_params;
    Expr *body;
    int color;             /* sema's search for recursion: 0 new, 1 on the path, 2 done */
    int failed;            /* sema found an error in its body: calls inline it quietly */
    struct Module *module; /* the file that defines it (set when the file is loaded) */
    struct FnDef *next;
} FnDef;

/* Everything parsed from one file. */
typedef struct Module {
    SourceFile *file;
    const char *import_path; /* as the first import of it wrote it; the main file: its path */
    int global;            /* its names are visible everywhere: the main file, or imported
                              at least once without `as` */
    Import *imports;
    Node *nodes;
    Patch *patches;
    FnDef *funcs;
} Module;

/* Builder calls used by the grammar actions. Each allocates in the arena. */
Expr *ast_num(Arena *a, Loc loc, double value, Unit unit);
Expr *ast_name(Arena *a, Loc loc, const char *name);
Expr *ast_field(Arena *a, Loc loc, Expr *object, const char *field);
Expr *ast_call(Arena *a, Loc loc, const char *name, Arg *args);
Expr *ast_method(Arena *a, Loc loc, Expr *object, const char *method, Arg *args);
Expr *ast_unary(Arena *a, Loc loc, Op op, Expr *x);
Expr *ast_binary(Arena *a, Loc loc, Op op, Expr *x, Expr *y);
Expr *ast_cond(Arena *a, Loc loc, Expr *c, Expr *x, Expr *y);
Expr *ast_index(Arena *a, Loc loc, const char *name, Expr *index);
Arg *ast_arg(Arena *a, Loc loc, const char *name, Expr *value);
Arg *ast_arg_append(Arg *list, Arg *last);

/* Builders for the other constructs; lists are linked by the caller. */
Expr *ast_paren(Expr *x);  /* marks x as written inside ( ); returns x */
Ident *ast_ident(Arena *a, Loc loc, const char *name);
Param *ast_param(Arena *a, Loc loc, const char *name, Expr *def, Expr *lo, Expr *hi,
                 Expr *step, Expr *smooth);
Decl *ast_decl(Arena *a, DeclKind kind, Loc loc, const char *name, Expr *value, Expr *size);
Stmt *ast_stmt(Arena *a, StmtKind kind, Loc loc, const char *name, Loc name_loc, Expr *value);
Target *ast_target(Arena *a, Loc loc, const char *object, const char *port);
GraphItem *ast_instance(Arena *a, Loc loc, const char *name, const char *node, Loc node_loc,
                        Arg *args);
GraphItem *ast_graph_let(Arena *a, Loc loc, const char *name, Loc name_loc, Expr *value);
GraphItem *ast_connect(Arena *a, Loc loc, Expr *value, Target *targets);
GraphItem *ast_array(Arena *a, Loc loc, const char *name, Arg *elems);
GraphItem *ast_for(Arena *a, Loc loc, const char *var, Loc var_loc, Expr *from, Expr *to, GraphItem *body);
GraphItem *ast_oversample(Arena *a, Loc loc, Expr *factor, GraphItem *body);
Import *ast_import(Arena *a, Loc loc, const char *path, const char *faust_as);
Node *ast_node(Arena *a, Loc loc, const char *name);
Patch *ast_patch(Arena *a, Loc loc, const char *name);
FnDef *ast_func(Arena *a, Loc loc, const char *name, Ident *params, Expr *body);
Module *ast_module(Arena *a, SourceFile *file);

const char *op_text(Op op);
const char *unit_text(Unit u);

/* Print the tree in a stable, indented text form (`ampc --dump ast`). */
#include <stdio.h>
void ast_dump(FILE *out, const Module *m);
/* One expression as a fully parenthesised S-expression: `(+ x (* a (- z x)))`. */
void ast_dump_expr(FILE *out, const Expr *e);

#endif
